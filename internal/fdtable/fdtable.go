// Package fdtable sizes the process's file descriptor table ahead of a
// burst of connections.
//
// Linux grows a process's descriptor table by doubling it when a new
// descriptor does not fit. In a process with more than one thread the
// kernel waits for an RCU grace period before it frees the old table
// (expand_fdtable in fs/file.c), and every other thread that allocates a
// descriptor meanwhile (accept4, socket, dup) waits for the resize. A Go
// program has many threads, and the Go scheduler treats each goroutine
// waiting there as blocked in a system call: it hands that goroutine's
// processor to a new thread. A server accepting thousands of connections
// at once went through eight doublings, and grew from a handful of
// threads to over a hundred, each with its stacks (about 300 bytes per
// connection at 10,000 connections). A table sized once at start never
// resizes below that size.
package fdtable

// Reserve makes room for descriptors numbered below n, bounded by the
// process's soft RLIMIT_NOFILE, and returns the table's size afterwards
// (as far as known: 0 where the platform has no such table or it cannot
// tell). It never shrinks the table, and costs the kernel about 8 bytes
// per slot, not the process's memory. Errors leave the table as it was.
func Reserve(n int) int { return reserve(n) }
