package queue

import (
	"context"
	"testing"
)

// benchCommit commits b.N messages of size bytes from parallel goroutines.
func benchCommit(b *testing.B, size int, opt Options) {
	q, _ := openTest(b, opt)
	content := pattern(size, "benchmark")
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			d, err := q.NewDraft()
			if err != nil {
				b.Error(err)
				return
			}
			if _, err := d.Write(content); err != nil {
				b.Error(err)
				return
			}
			if err := q.Commit(context.Background(), testEnv("rcpt@example.com"), d, Incoming); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	st := q.Stats()
	if st.Transactions > 0 {
		b.ReportMetric(float64(st.Commits)/float64(st.Transactions), "commits/tx")
	}
}

func BenchmarkCommitParallel(b *testing.B) {
	b.SetParallelism(32)
	benchCommit(b, 1<<10, Options{})
}

func BenchmarkCommitParallelNoSync(b *testing.B) {
	b.SetParallelism(32)
	benchCommit(b, 1<<10, Options{NoSync: true})
}

func BenchmarkCommitLarge(b *testing.B) {
	b.SetParallelism(4)
	benchCommit(b, 1<<20, Options{})
}
