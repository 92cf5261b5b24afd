package sasl

import "errors"

func isAuthFailed(err error) bool { return err != nil && errors.Is(err, ErrAuthFailed) }
