package main

import "testing"

func TestMemorySettings(t *testing.T) {
	t.Parallel()
	const mi = 1 << 20
	tests := []struct {
		name                 string
		limit, budget        int64
		gomemlimit           bool
		wantSoft, wantBudget int64
	}{
		{"no limit known", 0, 0, false, 0, 0},
		{"the chart's 256Mi", 256 * mi, 0, false, 256 * mi / 10 * 9, 96 * mi},
		{"GOMEMLIMIT set wins", 256 * mi, 0, true, 0, 96 * mi},
		{"a budget given", 256 * mi, 50 * mi, false, 256 * mi / 10 * 9, 50 * mi},
		{"no container limit: the node's memory", 64 << 30, 0, false, (64 << 30) / 10 * 9, 256 * mi},
	}
	for _, tt := range tests {
		soft, budget := memorySettings(tt.limit, tt.budget, tt.gomemlimit)
		if soft != tt.wantSoft || budget != tt.wantBudget {
			t.Errorf("%s: soft %d budget %d, want %d %d", tt.name, soft, budget, tt.wantSoft, tt.wantBudget)
		}
	}
}
