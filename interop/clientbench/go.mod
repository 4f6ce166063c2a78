module unievent.dev/interop/clientbench

go 1.26

require (
	github.com/gorilla/websocket v1.5.3
	github.com/lxzan/gws v1.8.9
	unievent.dev v0.0.0
)

require (
	github.com/dolthub/maphash v0.1.0 // indirect
	github.com/klauspost/compress v1.17.9 // indirect
)

replace unievent.dev => ../..
