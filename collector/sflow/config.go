package sflow

// Config configures the sFlow decoder. It has no settings yet: sFlow needs no
// template cache and samples carry their own sampling rate. It exists so the
// collector can build every decoder the same way.
type Config struct{}

// Default returns the default configuration.
func Default() Config { return Config{} }

// Validate reports configuration problems; an empty Config has none.
func (c Config) Validate() error { return nil }
