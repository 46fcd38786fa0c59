//go:build race

package grok

// raceEnabled shortens the long differential tests and skips allocation
// counts (sync.Pool drops items at random under the race detector).
const raceEnabled = true
