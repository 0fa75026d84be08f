// Package expansion expands $(VAR) references in a string exactly as the
// kubelet expands a container's env values, command and args: what admission
// judges must be what the container will see.
//
// The rules (the kubelet's): "$(NAME)" becomes NAME's value when the
// mapping knows NAME, and stays "$(NAME)" otherwise; "$$" becomes "$" (so
// "$$(NAME)" gives the text "$(NAME)"); a "$" followed by anything else, or
// a "$(" never closed, stays as written. The name is everything up to the
// first ")", whatever it holds. A value is expanded once: a value that holds
// "$(X)" itself is not expanded again. In a container's env, a value may
// refer only to the variables defined before it in the list (and to those
// of envFrom and the service links, unknown at admission).
//
// The package is pure and has no dependencies beyond the standard library.
package expansion
