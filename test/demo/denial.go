package main

import "strings"

// denialLines returns the lines of an admission denial's message.
func denialLines(err error) []string {
	msg := err.Error()
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		if l = strings.TrimRight(l, " "); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
