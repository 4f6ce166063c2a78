package nats

import "unievent.dev/ws/server"

// BrokerStats reports the broker's state in the server's Metrics
// (server.BrokerReporter): connected, reconnects, the local publishes
// handed to NATS and those dropped, the messages received from other
// nodes. Stats has the rest.
func (b *Broker) BrokerStats() server.BrokerStats {
	st := b.Stats()
	return server.BrokerStats{
		Connected:  st.Connected,
		Reconnects: st.Reconnects,
		Published:  st.Published,
		Dropped:    st.Dropped,
		Received:   st.Received,
	}
}
