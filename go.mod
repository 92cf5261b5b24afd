module github.com/tern-mta/tern

go 1.26.0

require (
	github.com/miekg/dns v1.1.73
	github.com/spf13/pflag v1.1.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/crypto v0.58.0
	golang.org/x/sys v0.49.0
)

require golang.org/x/net v0.60.0 // indirect
