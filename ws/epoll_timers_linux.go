//go:build !unievent_nopoll

package ws

// The poller's timers: a binary heap of the connections it watches, keyed
// by the next deadline of each (deadlines.next), whose earliest entry is
// the epoll wait's deadline. A connection's entry may be earlier than its
// real deadline, never later: a busy connection's deadline moves later at
// every read, and moving it in the heap each time would cost more than the
// early wake-up that reschedules it. A timer wheel would make schedule
// O(1), but schedule runs once per read and touches the heap only when the
// deadline moved earlier, so the heap is not what a read costs.

// schedule puts c's next deadline in the heap. An entry that is too early
// costs a wake-up that reschedules it; one too late would miss a timer, so
// only a deadline that moved earlier touches the heap.
func (p *poller) schedule(c *Conn) {
	due := c.d.next(c.s, false)
	if due == 0 {
		p.heapRemove(c)
		return
	}
	switch {
	case c.p.hidx < 0:
		c.p.due = due
		c.p.hidx = int32(len(p.heap))
		p.heap = append(p.heap, c)
		p.up(int(c.p.hidx))
	case due < c.p.due:
		c.p.due = due
		p.up(int(c.p.hidx))
	}
}

// expire runs the timers that are due.
func (p *poller) expire(now mono) {
	for len(p.heap) > 0 && p.heap[0].p.due <= now {
		c := p.heap[0]
		if d := c.d.next(c.s, false); d != 0 && d > now {
			c.p.due = d // an early entry: the connection was busy
			p.down(0)
			continue
		}
		p.heapRemove(c)
		if c.onTimer(c.d.expired(c.s, now), now) || c.hs.failed || c.aborted.Load() {
			p.end(c)
			continue
		}
		p.schedule(c)
	}
}

func (p *poller) heapRemove(c *Conn) {
	i := int(c.p.hidx)
	if i < 0 {
		return
	}
	last := len(p.heap) - 1
	if i != last {
		p.swap(i, last)
	}
	p.heap[last] = nil
	p.heap = p.heap[:last]
	c.p.hidx = -1
	if i != last {
		p.down(i)
		p.up(i)
	}
}

func (p *poller) swap(i, j int) {
	h := p.heap
	h[i], h[j] = h[j], h[i]
	h[i].p.hidx = int32(i)
	h[j].p.hidx = int32(j)
}

func (p *poller) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if p.heap[parent].p.due <= p.heap[i].p.due {
			return
		}
		p.swap(i, parent)
		i = parent
	}
}

func (p *poller) down(i int) {
	n := len(p.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && p.heap[r].p.due < p.heap[l].p.due {
			m = r
		}
		if p.heap[i].p.due <= p.heap[m].p.due {
			return
		}
		p.swap(i, m)
		i = m
	}
}
