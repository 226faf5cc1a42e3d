//! SPDY/3.1, as Kubernetes streaming uses it: frames, header compression, a stream multiplexer.
