package property

import (
	"bufio"
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	mrand "math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// Draw parameters.
const (
	// MinRatio is the smallest share of targets a round may draw (the
	// double-random rules ask for at least 5 %).
	MinRatio = 0.05
	// MinPerTarget is the fewest inspectors per target (at least two).
	MinPerTarget = 2
	// MaxPerTarget bounds a team's size.
	MaxPerTarget = 10
	// RecusalRoundsDefault is how many past rounds recusal looks back
	// over: an inspector who inspected a compound in either of the last two
	// rounds (the last year, at two rounds a year) is not drawn for it.
	RecusalRoundsDefault = 2
	// MaxRecusalRounds bounds the look-back: each round looked back over
	// takes inspectors out of a compound's pool, and too long a look-back
	// leaves none.
	MaxRecusalRounds = 12
)

// Target is one entry of the register of targets (检查对象名录库): a
// property-management project and its complaint count. Its weight in the
// draw is 1 + Complaints, so a compound nobody complained about can still
// be drawn and one with ten times the complaints is about ten times as
// likely to be.
type Target struct {
	PropertyID uuid.UUID
	Complaints int
}

// Weight is the target's weight in the draw.
func (t Target) Weight() uint64 { return 1 + uint64(max(t.Complaints, 0)) }

// Conflict is a declared conflict of interest: the inspector may not
// inspect the compound. (The stated reason is kept with the register but is
// not part of the snapshot: it does not change the draw.)
type Conflict struct {
	InspectorID string
	PropertyID  uuid.UUID
}

// Assignment is one inspector on one compound in a round.
type Assignment struct {
	PropertyID  uuid.UUID
	InspectorID string
}

// Registers are the inputs of a draw: the register of targets, the register
// of active inspectors, their declared conflicts, and who inspected what in
// the rounds recusal looks back over.
type Registers struct {
	Targets    []Target
	Inspectors []string
	Conflicts  []Conflict
	// PreviousRounds are the rounds recusal looks back over, newest first
	// (at most the configured look-back, RecusalRoundsDefault by default);
	// Previous holds their assignments.
	PreviousRounds []string
	Previous       []Assignment
}

// Pick is one drawn target and its inspectors (sorted).
type Pick struct {
	Rank         int // from 1, in draw order
	PropertyID   uuid.UUID
	InspectorIDs []string
}

// DrawResult is a complete draw: its inputs' fingerprints and its picks.
type DrawResult struct {
	Seed           int64
	Ratio          float64
	PerTarget      int
	RegisterSize   int
	PreviousRounds []string // newest first
	TargetsHash    string
	InspectorsHash string
	Picks          []Pick
}

// inspectorIDPattern keeps ids free of the snapshot encoding's separators.
var inspectorIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$`)

// ValidInspectorID reports whether id can stand in the register.
func ValidInspectorID(id string) bool { return inspectorIDPattern.MatchString(id) }

// RandomSeed returns a fresh seed from the operating system's secure random
// source, for callers that do not choose one (a public lottery might instead
// take the seed from a witnessed event).
func RandomSeed() int64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // cannot happen on supported platforms
	}
	return int64(binary.BigEndian.Uint64(b[:]) >> 1)
}

// SampleSize is how many of n targets a ratio draws: ⌈ratio·n⌉, at least 1.
// A tiny tolerance keeps products such as 0.05·600 (30.000000000000004 in
// floating point) from rounding up to 31.
func SampleSize(n int, ratio float64) int {
	if n == 0 {
		return 0
	}
	m := int(math.Ceil(ratio*float64(n) - 1e-9))
	return min(max(m, 1), n)
}

// Canonical returns the registers sorted and without duplicate conflicts or
// previous assignments: the form that is encoded, hashed and drawn from, so
// the order a store returned rows in never matters.
func (r Registers) Canonical() Registers {
	// The look-back keeps its order (newest first, as the store reads it):
	// round names of different lengths (2025-H2, 2025-Q3, 2025-07) do not
	// sort by time.
	c := Registers{PreviousRounds: slices.Clone(r.PreviousRounds)}
	c.Targets = slices.Clone(r.Targets)
	slices.SortFunc(c.Targets, func(a, b Target) int { return compareUUID(a.PropertyID, b.PropertyID) })
	c.Inspectors = slices.Clone(r.Inspectors)
	slices.Sort(c.Inspectors)
	c.Conflicts = slices.Clone(r.Conflicts)
	slices.SortFunc(c.Conflicts, func(a, b Conflict) int {
		return cmp.Or(strings.Compare(a.InspectorID, b.InspectorID), compareUUID(a.PropertyID, b.PropertyID))
	})
	c.Conflicts = slices.Compact(c.Conflicts)
	c.Previous = slices.Clone(r.Previous)
	slices.SortFunc(c.Previous, func(a, b Assignment) int {
		return cmp.Or(compareUUID(a.PropertyID, b.PropertyID), strings.Compare(a.InspectorID, b.InspectorID))
	})
	c.Previous = slices.Compact(c.Previous)
	return c
}

func compareUUID(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) }

// Snapshot headers: a format change must change them, so old snapshots are
// never read with new rules.
const (
	targetsHeader    = "datahub-draw-targets v1"
	inspectorsHeader = "datahub-draw-inspectors v1"
)

// EncodeTargets returns the canonical snapshot of the register of targets:
// a header line, then "<property id> <weight>" per target in id order.
func (r Registers) EncodeTargets() []byte {
	c := r.Canonical()
	var b bytes.Buffer
	b.WriteString(targetsHeader + "\n")
	for _, t := range c.Targets {
		fmt.Fprintf(&b, "%s %d\n", t.PropertyID, t.Weight())
	}
	return b.Bytes()
}

// EncodeInspectors returns the canonical snapshot of the register of
// inspectors: a header line, "previous-round <rounds newest first, or ->",
// then
// "inspector <id>", "conflict <inspector> <property>" and
// "previous <property> <inspector>" lines, each group sorted.
func (r Registers) EncodeInspectors() []byte {
	c := r.Canonical()
	var b bytes.Buffer
	b.WriteString(inspectorsHeader + "\n")
	// One round looked back over encodes exactly as before the look-back
	// became configurable, so older snapshots keep their hashes and replay.
	prev := strings.Join(c.PreviousRounds, " ")
	if prev == "" {
		prev = "-"
	}
	b.WriteString("previous-round " + prev + "\n")
	for _, id := range c.Inspectors {
		b.WriteString("inspector " + id + "\n")
	}
	for _, cf := range c.Conflicts {
		fmt.Fprintf(&b, "conflict %s %s\n", cf.InspectorID, cf.PropertyID)
	}
	for _, a := range c.Previous {
		fmt.Fprintf(&b, "previous %s %s\n", a.PropertyID, a.InspectorID)
	}
	return b.Bytes()
}

// Hash returns the hex SHA-256 of a snapshot.
func Hash(snapshot []byte) string {
	h := sha256.Sum256(snapshot)
	return hex.EncodeToString(h[:])
}

// Hashes returns the SHA-256 of the targets and of the inspectors snapshot.
func (r Registers) Hashes() (targets, inspectors string) {
	return Hash(r.EncodeTargets()), Hash(r.EncodeInspectors())
}

// DecodeRegisters reads the two snapshots back (to replay a stored round).
// Encoding what it returns gives the same bytes.
func DecodeRegisters(targets, inspectors []byte) (Registers, error) {
	var r Registers
	lines, err := snapshotLines(targets, targetsHeader)
	if err != nil {
		return r, err
	}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 {
			return r, fmt.Errorf("targets snapshot line %d: want \"<id> <weight>\"", i+2)
		}
		id, err := uuid.Parse(f[0])
		if err != nil {
			return r, fmt.Errorf("targets snapshot line %d: %w", i+2, err)
		}
		w, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || w < 1 {
			return r, fmt.Errorf("targets snapshot line %d: bad weight %q", i+2, f[1])
		}
		r.Targets = append(r.Targets, Target{PropertyID: id, Complaints: int(w - 1)})
	}
	lines, err = snapshotLines(inspectors, inspectorsHeader)
	if err != nil {
		return r, err
	}
	for i, l := range lines {
		f := strings.Fields(l)
		bad := fmt.Errorf("inspectors snapshot line %d: malformed %q", i+2, l)
		if len(f) < 2 {
			return r, bad
		}
		switch f[0] {
		case "previous-round":
			if i != 0 || (len(f) > 2 && slices.Contains(f[1:], "-")) {
				return r, bad
			}
			if f[1] != "-" {
				r.PreviousRounds = slices.Clone(f[1:])
			}
		case "inspector":
			if len(f) != 2 || !ValidInspectorID(f[1]) {
				return r, bad
			}
			r.Inspectors = append(r.Inspectors, f[1])
		case "conflict":
			id, err := uuid.Parse(f[len(f)-1])
			if len(f) != 3 || err != nil || !ValidInspectorID(f[1]) {
				return r, bad
			}
			r.Conflicts = append(r.Conflicts, Conflict{InspectorID: f[1], PropertyID: id})
		case "previous":
			id, err := uuid.Parse(f[1])
			if len(f) != 3 || err != nil || !ValidInspectorID(f[2]) {
				return r, bad
			}
			r.Previous = append(r.Previous, Assignment{PropertyID: id, InspectorID: f[2]})
		default:
			return r, bad
		}
	}
	return r, nil
}

func snapshotLines(b []byte, header string) ([]string, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	if !sc.Scan() || sc.Text() != header {
		return nil, fmt.Errorf("snapshot does not start with %q", header)
	}
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// drawStream is the PCG stream selector of draws ("datahub1"): a fixed
// second seed word, so that only the recorded seed chooses the draw.
const drawStream = 0x6461746168756231

// drawRand is the draw's source of randomness: PCG-DXSM from math/rand/v2
// seeded with (seed, drawStream), turned into bounded integers by rejection
// sampling written out here. Only integer arithmetic is involved, so a
// verifier on any architecture and Go version with the same PCG gets the
// same draw bit for bit (floating-point keys such as u^(1/w) could differ in
// the last bit between math.Log implementations and flip a close call).
type drawRand struct{ src *mrand.PCG }

func newDrawRand(seed int64) drawRand { return drawRand{mrand.NewPCG(uint64(seed), drawStream)} }

// below returns a uniform integer in [0, n), n > 0.
func (r drawRand) below(n uint64) uint64 {
	threshold := -n % n // 2^64 mod n: values below it would favour small results
	for {
		if x := r.src.Uint64(); x >= threshold {
			return x % n
		}
	}
}

// fenwick is a binary indexed tree over target weights: successive weighted
// sampling without replacement in O(log n) per pick.
type fenwick []uint64

func newFenwick(w []uint64) fenwick {
	f := make(fenwick, len(w)+1)
	for i, v := range w {
		f.add(i, v)
	}
	return f
}

func (f fenwick) add(i int, v uint64) {
	for i++; i < len(f); i += i & -i {
		f[i] += v
	}
}

func (f fenwick) sub(i int, v uint64) {
	for i++; i < len(f); i += i & -i {
		f[i] -= v
	}
}

// find returns the index i with prefix(i) ≤ r < prefix(i+1).
func (f fenwick) find(r uint64) int {
	pos := 0
	for step := 1 << (bits(len(f) - 1)); step > 0; step >>= 1 {
		if next := pos + step; next < len(f) && f[next] <= r {
			pos = next
			r -= f[next]
		}
	}
	return pos
}

func bits(n int) int {
	b := 0
	for n > 1 {
		n >>= 1
		b++
	}
	return b
}

// Draw is the double-random draw (双随机), a pure function of its inputs:
// the same registers, seed, ratio and k give the same result on every run
// and every machine. DrawInspections and ReplayDraw both call it.
//
// Algorithm (v1):
//  1. The registers are put in canonical order (Registers.Canonical).
//  2. m = SampleSize(len(targets), ratio) targets are drawn by successive
//     weighted sampling without replacement: each pick takes an integer r
//     uniform in [0, Σ remaining weights) and the target whose cumulative
//     weight range (in id order) contains r; weight = 1 + complaints.
//  3. For each picked target in draw order, the eligible inspectors are the
//     active ones with no declared conflict with it and who did not inspect
//     it in the rounds looked back over (回避; Registers.PreviousRounds).
//     k distinct inspectors are chosen one
//     at a time, uniformly among the eligible ones with the fewest
//     assignments so far in this round, so the work is spread evenly.
//
// BAD_USER_INPUT when ratio < 5 % or > 100 %, k < 2 or > 10, the register of
// targets is empty or holds a target twice, an inspector id is malformed, or
// a drawn target has fewer than k eligible inspectors.
func Draw(reg Registers, seed int64, ratio float64, k int) (*DrawResult, error) {
	if !(ratio >= MinRatio && ratio <= 1) {
		return nil, apperr.Invalid("ratio", "the sampling ratio must be between 5%% and 100%% (0.05–1), got %v", ratio)
	}
	if k < MinPerTarget || k > MaxPerTarget {
		return nil, apperr.Invalid("inspectorsPerTarget", "each target needs %d to %d inspectors, got %d", MinPerTarget, MaxPerTarget, k)
	}
	c := reg.Canonical()
	if len(c.Targets) == 0 {
		return nil, apperr.Invalid("round", "the register of targets is empty: no compound has a property-management company")
	}
	for i := 1; i < len(c.Targets); i++ {
		if c.Targets[i].PropertyID == c.Targets[i-1].PropertyID {
			return nil, apperr.Invalid("round", "compound %s appears twice in the register of targets", c.Targets[i].PropertyID)
		}
	}
	for i, id := range c.Inspectors {
		if !ValidInspectorID(id) {
			return nil, apperr.Invalid("round", "inspector id %q is malformed", id)
		}
		if i > 0 && id == c.Inspectors[i-1] {
			return nil, apperr.Invalid("round", "inspector %s appears twice in the register of inspectors", id)
		}
	}
	th, ih := Hash(c.EncodeTargets()), Hash(c.EncodeInspectors())
	res := &DrawResult{Seed: seed, Ratio: ratio, PerTarget: k, RegisterSize: len(c.Targets),
		PreviousRounds: c.PreviousRounds, TargetsHash: th, InspectorsHash: ih}
	rnd := newDrawRand(seed)

	// Step 2: targets.
	weights := make([]uint64, len(c.Targets))
	var total uint64
	for i, t := range c.Targets {
		weights[i] = t.Weight()
		total += weights[i]
	}
	tree := newFenwick(weights)
	m := SampleSize(len(c.Targets), ratio)
	picked := make([]int, 0, m)
	for len(picked) < m {
		i := tree.find(rnd.below(total))
		picked = append(picked, i)
		tree.sub(i, weights[i])
		total -= weights[i]
	}

	// Step 3: inspectors.
	excluded := make(map[Assignment]bool, len(c.Conflicts)+len(c.Previous))
	for _, cf := range c.Conflicts {
		excluded[Assignment{PropertyID: cf.PropertyID, InspectorID: cf.InspectorID}] = true
	}
	for _, a := range c.Previous {
		excluded[a] = true
	}
	load := make(map[string]int, len(c.Inspectors))
	eligible := make([]string, 0, len(c.Inspectors))
	cands := make([]string, 0, len(c.Inspectors))
	for rank, ti := range picked {
		pid := c.Targets[ti].PropertyID
		eligible = eligible[:0]
		for _, id := range c.Inspectors {
			if !excluded[Assignment{PropertyID: pid, InspectorID: id}] {
				eligible = append(eligible, id)
			}
		}
		if len(eligible) < k {
			return nil, apperr.Invalid("inspectorsPerTarget",
				"compound %s has only %d eligible inspectors after recusal (conflicts of interest and the last %d rounds), %d are needed: add inspectors to the register, lower inspectorsPerTarget or shorten the recusal look-back",
				pid, len(eligible), len(c.PreviousRounds), k)
		}
		team := make([]string, 0, k)
		for range k {
			least := math.MaxInt
			for _, id := range eligible {
				least = min(least, load[id])
			}
			cands = cands[:0]
			for _, id := range eligible {
				if load[id] == least {
					cands = append(cands, id)
				}
			}
			chosen := cands[rnd.below(uint64(len(cands)))]
			team = append(team, chosen)
			load[chosen]++
			eligible = slices.DeleteFunc(eligible, func(id string) bool { return id == chosen })
		}
		slices.Sort(team)
		res.Picks = append(res.Picks, Pick{Rank: rank + 1, PropertyID: pid, InspectorIDs: team})
	}
	return res, nil
}
