// Package closest names the known word closest to a misspelt one, for the
// "did you mean" of config keys and rule keys.
package closest

// Name returns the known name closest to k by edit distance when it is
// close enough to be a typo (at most 2 edits, or a quarter of k's length),
// else "". Ties go to the name that sorts first.
func Name(k string, known []string) string {
	best, bestD := "", -1
	for _, c := range known {
		if d := Distance(k, c); bestD < 0 || d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if bestD >= 0 && bestD <= max(2, len(k)/4) {
		return best
	}
	return ""
}

// Distance is the Levenshtein distance between a and b (bytes). Strings
// longer than 64 bytes are "far" from everything: no suggestion for long
// junk, and no quadratic cost.
func Distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
