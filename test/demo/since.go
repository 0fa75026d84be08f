package main

import "time"

// since is the time since t0, rounded for humans.
func since(t0 time.Time) string {
	d := time.Since(t0)
	switch {
	case d < 10*time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
