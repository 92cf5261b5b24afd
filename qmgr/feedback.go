package qmgr

import "github.com/tern-mta/tern/pkg/config"

// feedbackAmount is a destination_concurrency_positive_feedback or
// _negative_feedback value: a number from 0 to 1, to be divided by the
// destination's window when perWindow ("1/concurrency", Postfix's
// default).
type feedbackAmount struct {
	base      float64
	perWindow bool
}

// defaultFeedback is Postfix's default, 1/concurrency.
var defaultFeedback = feedbackAmount{base: 1, perWindow: true}

// at is the amount for a destination whose window is w.
func (f feedbackAmount) at(w float64) float64 {
	if f.perWindow {
		return f.base / w
	}
	return f.base
}

// parseFeedback parses a feedback setting (config.ParseFeedback).
func parseFeedback(v string) (feedbackAmount, error) {
	base, perWindow, err := config.ParseFeedback(v)
	return feedbackAmount{base: base, perWindow: perWindow}, err
}

// feedbackSettings are a transport's slow-start settings: Postfix's
// transport_initial_destination_concurrency and
// transport_destination_concurrency_{positive,negative}_feedback and
// _failed_cohort_limit, each defaulting to main.cf's default_ (or
// plain) one.
type feedbackSettings struct {
	initial     float64
	positive    feedbackAmount
	negative    feedbackAmount
	cohortLimit float64 // failed pseudo-cohorts that make a destination dead; 0: never
}

// feedbackSettings reads transport's slow-start settings; a bad value is
// warned about and taken as the default.
func (m *Manager) feedbackSettings(transport string) feedbackSettings {
	fs := feedbackSettings{initial: float64(m.settings.initialConcurrency), positive: defaultFeedback,
		negative: defaultFeedback, cohortLimit: 1}
	if m.cfg == nil {
		return fs
	}
	fs.initial = float64(max(m.transportLimit(transport+"_initial_destination_concurrency", m.settings.initialConcurrency), 1))
	fs.cohortLimit = float64(m.transportLimit(transport+"_destination_concurrency_failed_cohort_limit",
		m.cfg.Int("default_destination_concurrency_failed_cohort_limit")))
	for _, f := range []struct {
		dst  *feedbackAmount
		name string
	}{
		{&fs.positive, "destination_concurrency_positive_feedback"},
		{&fs.negative, "destination_concurrency_negative_feedback"},
	} {
		def, err := parseFeedback(m.cfg.Get("default_" + f.name))
		if err != nil {
			def = defaultFeedback // main.cf's value was checked at start
		}
		*f.dst = def
		name := transport + "_" + f.name
		v := m.cfg.Get(name)
		if v == "" {
			continue
		}
		if parsed, err := parseFeedback(v); err == nil {
			*f.dst = parsed
		} else {
			m.log.Warnf("%s = %s: %v; using %s", name, v, err, m.cfg.Get("default_"+f.name))
		}
	}
	return fs
}
