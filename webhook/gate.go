package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sync/semaphore"
)

// gate bounds what the admission endpoints decode and judge at once, by CPU
// and by memory, in two lanes:
//
//   - small requests (a body of at most smallBytes, by its Content-Length:
//     an ordinary pod's review is 2 to 30 KiB) take a slot of the small
//     lane, twice as many as the Go scheduler's cores, and nothing else:
//     they never wait behind a large one;
//   - large requests take, before their body is read, its length from a
//     budget of bodies; once it is read, the estimated size of its object
//     decoded (decodedSize) from a budget of decoded objects; then a slot of
//     the large lane, half as many as the cores (at least one), so that
//     large requests never hold every core. A request whose object could
//     never fit the budget is refused.
//
// Bodies over maxBody are refused before they are read. With smallBytes
// negative there is one lane: every request is large, and the large lane
// has the small lane's slots.
type gate struct {
	small, large  chan struct{}
	smallBytes    int64
	maxBody       int64
	bodies        *semaphore.Weighted
	decoded       *semaphore.Weighted
	decodedBudget int64
}

// gateConfig sizes a gate; see newGate.
type gateConfig struct {
	smallSlots, largeSlots int
	smallBytes, maxBody    int64
	// bodies and decoded are the budgets of bodies read and of decoded
	// objects, in bytes.
	bodies, decoded int64
}

// defaultGateConfig is the gate of a server: slots from GOMAXPROCS, memory
// split between the budgets, a third for bodies (at least one body at the
// limit), the rest for decoded objects.
func defaultGateConfig(smallBytes, maxBody, memory int64) gateConfig {
	procs := runtime.GOMAXPROCS(0)
	c := gateConfig{smallSlots: 2 * procs, largeSlots: max(1, procs/2), smallBytes: smallBytes, maxBody: maxBody,
		bodies: max(memory/3, maxBody), decoded: memory - memory/3}
	if smallBytes < 0 {
		c.largeSlots = c.smallSlots
	}
	return c
}

func newGate(c gateConfig) *gate {
	g := &gate{
		large:         make(chan struct{}, c.largeSlots),
		smallBytes:    c.smallBytes,
		maxBody:       c.maxBody,
		bodies:        semaphore.NewWeighted(max(c.bodies, c.maxBody)),
		decoded:       semaphore.NewWeighted(c.decoded),
		decodedBudget: c.decoded,
	}
	if c.smallBytes >= 0 {
		g.small = make(chan struct{}, c.smallSlots)
	}
	return g
}

// Why a gate refuses a request.
var (
	// errOverloaded: no room came free before the request's deadline.
	errOverloaded = errors.New("wisp: overloaded: no capacity within the request timeout")
	// errBodyTooLarge: the body is over the server's limit.
	errBodyTooLarge = errors.New("request body too large")
	// errTooCostly: the decoded object would not fit the budget, ever.
	errTooCostly = errors.New("request too large to judge")
)

// ticket is one request's way through the gate: what it holds.
type ticket struct {
	g             *gate
	small         bool
	slot          chan struct{} // the lane whose slot it holds, or nil
	body, decoded int64         // what it holds of the budgets
}

// enter admits a request whose body has n bytes (-1: unknown) to be read:
// a small one at once, a large one once its body fits the budget of
// bodies, waiting within ctx. Call leave when done with the request. A
// nil gate admits everything.
func (g *gate) enter(ctx context.Context, n int64) (ticket, error) {
	if g == nil {
		return ticket{}, nil
	}
	if n > g.maxBody {
		return ticket{}, fmt.Errorf("%w: %d bytes, the limit is %d", errBodyTooLarge, n, g.maxBody)
	}
	t := ticket{g: g, small: g.small != nil && n >= 0 && n <= g.smallBytes}
	if t.small {
		return t, nil
	}
	w := n
	if w < 0 {
		w = g.maxBody
	}
	if g.bodies.Acquire(ctx, w) != nil {
		return ticket{}, errOverloaded
	}
	t.body = w
	return t, nil
}

// judge admits the request, its body read, to be decoded and judged: in a
// slot of the small lane, or, for a large one, once its decoded object fits
// the budget and in a slot of the large lane; waiting within ctx. Call
// judged when the answer is made.
func (t *ticket) judge(ctx context.Context, body []byte) error {
	g := t.g
	switch {
	case g == nil:
		return nil
	case t.small:
		return t.take(ctx, g.small)
	}
	est := decodedSize(body)
	if est > g.decodedBudget {
		return fmt.Errorf("%w: its object would take about %d MiB decoded, over the %d MiB wisp decodes at once; split it",
			errTooCostly, est>>20, g.decodedBudget>>20)
	}
	if g.decoded.Acquire(ctx, est) != nil {
		return errOverloaded
	}
	t.decoded = est
	return t.take(ctx, g.large)
}

// take takes a slot of lane, waiting within ctx.
func (t *ticket) take(ctx context.Context, lane chan struct{}) error {
	select {
	case lane <- struct{}{}:
		t.slot = lane
		return nil
	case <-ctx.Done():
		return errOverloaded
	}
}

// judged gives back the slot and the decoded object's budget.
func (t *ticket) judged() {
	if t.slot != nil {
		<-t.slot
		t.slot = nil
	}
	if t.decoded > 0 {
		t.g.decoded.Release(t.decoded)
		t.decoded = 0
	}
}

// leave gives back whatever the ticket still holds.
func (t *ticket) leave() {
	t.judged()
	if t.body > 0 {
		t.g.bodies.Release(t.body)
		t.body = 0
	}
}

// decodedSize estimates, from its JSON, the memory a review takes once
// decoded with its object (pod, or workload through unstructured), on the
// heap: its body, 96 bytes per comma and 512 per object, outside strings.
// Measured on 1 MiB reviews of pods and Deployments made of one shape each
// (empty containers, volumes, env entries, ports, labels, args, one large
// annotation), the live heap of the decoded review was at most this
// estimate: empty containers are the worst (35 times their JSON), one
// large annotation the best (1.1 times). Strings are skipped at memory
// speed (a template's braces are text, not objects).
func decodedSize(body []byte) int64 {
	var braces, commas int64
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '{':
			braces++
		case ',':
			commas++
		case '"':
			i = stringEnd(body, i)
		}
	}
	return int64(len(body)) + 96*commas + 512*braces
}

// stringEnd is the index of the quote that closes the JSON string opening
// at i (len(body) when none does).
func stringEnd(body []byte, i int) int {
	for {
		j := bytes.IndexByte(body[i+1:], '"')
		if j < 0 {
			return len(body)
		}
		i += j + 1
		escapes := 0
		for k := i - 1; k >= 0 && body[k] == '\\'; k-- {
			escapes++
		}
		if escapes%2 == 0 {
			return i
		}
	}
}
