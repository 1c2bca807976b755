package property

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// fullInspections reports whether the caller sees inspections as staff do
// (every round, inspectors' ids); everyone else sees the published results.
func fullInspections(d *access.Decision) bool {
	return d.Field(GroupInspections) == access.FieldVisible
}

func publicInspection(in *Inspection) {
	in.InspectorIDs = nil
}

func publicRound(r *Round) {
	r.DrawnBy = ""
}

// Inspections returns the inspections of the visible compounds among
// propertyIDs (one statement for a loader batch), newest round first.
// Callers without the "inspections" group (the public) get the results of
// published rounds only, without the inspectors.
func (s *Service) Inspections(ctx context.Context, propertyIDs []uuid.UUID) (map[uuid.UUID][]Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	full := fullInspections(d)
	out, err := s.store.Inspections(ctx, d.Rows, propertyIDs, !full)
	if err != nil {
		return nil, err
	}
	if !full {
		for _, l := range out {
			for i := range l {
				publicInspection(&l[i])
			}
		}
	}
	return out, nil
}

// Rounds lists the inspection rounds, newest first: every round for staff,
// the published ones (without who drew them) for the public.
func (s *Service) Rounds(ctx context.Context) ([]*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	full := fullInspections(d)
	list, err := s.store.Rounds(ctx, !full)
	if err != nil {
		return nil, err
	}
	if !full {
		for _, r := range list {
			publicRound(r)
		}
	}
	return list, nil
}

// Round returns one round. NOT_FOUND when it does not exist or, for the
// public, is not published yet.
func (s *Service) Round(ctx context.Context, round string) (*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	return s.visibleRound(ctx, d, round)
}

func (s *Service) visibleRound(ctx context.Context, d *access.Decision, round string) (*Round, error) {
	r, err := s.store.Round(ctx, round)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		if !r.Published {
			return nil, apperr.New(apperr.NotFound, "inspection round %s not found", round)
		}
		publicRound(r)
	}
	return r, nil
}

// RoundInspections returns a round's inspections in draw order, with the
// same visibility as Round (the public sees no inspectors).
func (s *Service) RoundInspections(ctx context.Context, round string) ([]Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := s.visibleRound(ctx, d, round); err != nil {
		return nil, err
	}
	list, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		for i := range list {
			publicInspection(&list[i])
		}
		return list, nil
	}
	if err := s.auditInspections(ctx, d, len(list)); err != nil {
		return nil, err
	}
	return list, nil
}

// auditInspections records the disclosure of n inspections in full (their
// inspectors, results and findings: the inspections group of housing's
// dataset) to staff. Inspections carry no jurisdiction, so the record names
// only that group; the compounds they lead to are audited when read.
func (s *Service) auditInspections(ctx context.Context, d *access.Decision, n int) error {
	if s.audit == nil || n == 0 {
		return nil
	}
	only := &access.Decision{Dataset: d.Dataset, Rows: d.Rows, OwnDept: d.OwnDept,
		Fields: map[string]access.FieldAccess{GroupInspections: access.FieldVisible}, Purpose: d.Purpose}
	if err := s.audit.Read(ctx, only, n); err != nil {
		return fmt.Errorf("audit inspections: %w", err)
	}
	return nil
}

// Inspectors returns the inspectors among ids (names for the staff who see
// inspections). FORBIDDEN for the public.
func (s *Service) Inspectors(ctx context.Context, ids []string) ([]*Inspector, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !fullInspections(d) {
		return nil, apperr.New(apperr.Forbidden, "inspectors are not published")
	}
	return s.store.Inspectors(ctx, ids)
}

// mayManageInspections reports whether the caller runs housing's
// inspections: a housing officer or administrator (who may write the
// registry). Department systems may not draw: a draw is a person's act.
func mayManageInspections(d *access.Decision, p *access.Principal) bool {
	return d.Can("write") && p.Dept == OwnerDept && p.Kind == access.KindUser &&
		(p.HasRole(access.RoleAdmin) || p.HasRole(access.RoleOfficer))
}

// DrawInspections draws a round of double-random inspections (双随机): from
// the register of targets (compounds with a management company, weighted by
// complaints) it draws ⌈ratio × targets⌉ of them, and for each
// inspectorsPerTarget inspectors with recusal, by the pure function Draw.
// Recusal excludes declared conflicts and whoever inspected the compound in
// the last Config.RecusalRounds rounds (2 by default). It records the seed
// and the SHA-256 of both register snapshots (and the snapshots themselves,
// so anyone can replay it with ReplayDraw) and stores the round and its
// inspections, scheduled on working days over the period.
//
// round names the period: 2026-H1, 2026-Q3 or 2026-07. Only housing's
// officers and administrators may draw (else FORBIDDEN). BAD_USER_INPUT for
// a malformed round, a ratio under 5 % or over 100 %, fewer than 2
// inspectors per target, or too few eligible inspectors; CONFLICT when the
// round was already drawn: a round is drawn once.
func (s *Service) DrawInspections(ctx context.Context, round string, ratio float64, inspectorsPerTarget int, seed int64) (*Round, []Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, nil, err
	}
	p := access.PrincipalFrom(ctx)
	if !mayManageInspections(d, p) {
		return nil, nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may draw inspection rounds")
	}
	start, _, ok := ParseRound(round)
	if !ok {
		return nil, nil, apperr.Invalid("round", "%q is not a round such as 2026-H1, 2026-Q3 or 2026-07", round)
	}
	if !(ratio >= MinRatio && ratio <= 1) {
		return nil, nil, apperr.Invalid("ratio", "the sampling ratio must be between 5%% and 100%% (0.05–1), got %v", ratio)
	}
	if inspectorsPerTarget < MinPerTarget || inspectorsPerTarget > MaxPerTarget {
		return nil, nil, apperr.Invalid("inspectorsPerTarget", "each target needs %d to %d inspectors, got %d", MinPerTarget, MaxPerTarget, inspectorsPerTarget)
	}
	if r, err := s.store.Round(ctx, round); err == nil {
		return nil, nil, apperr.New(apperr.Conflict, "round %s was already drawn on %s; a round is drawn once", round, r.DrawnAt.Format(time.DateOnly))
	} else if !apperr.Is(err, apperr.NotFound) {
		return nil, nil, err
	}
	reg, err := s.store.Registers(ctx, OwnerDept, start, s.recusalRounds)
	if err != nil {
		return nil, nil, fmt.Errorf("read registers: %w", err)
	}
	res, err := Draw(reg, seed, ratio, inspectorsPerTarget)
	if err != nil {
		return nil, nil, err
	}
	r, list := RoundFromDraw(round, OwnerDept, res, s.Now(), p.Actor(), s.cal)
	if err := s.store.CreateRound(ctx, r, reg.EncodeTargets(), reg.EncodeInspectors(), list); err != nil {
		return nil, nil, err
	}
	return r, list, nil
}

// RoundFromDraw turns a draw into the round record and its inspections
// (new ids, dates spread over the period's working days by ScheduleDates).
// The demo seeder uses it too.
func RoundFromDraw(round, dept string, res *DrawResult, at time.Time, by string, cal WorkingDays) (*Round, []Inspection) {
	start, _, _ := ParseRound(round)
	r := &Round{Round: round, PeriodStart: start, Dept: dept, Seed: res.Seed, Ratio: res.Ratio, PerTarget: res.PerTarget,
		RegisterSize: res.RegisterSize, Drawn: len(res.Picks), PreviousRounds: slices.Clone(res.PreviousRounds),
		TargetsHash: res.TargetsHash, InspectorsHash: res.InspectorsHash, DrawnAt: at, DrawnBy: by}
	if len(res.PreviousRounds) > 0 {
		r.PreviousRound = res.PreviousRounds[0]
	}
	dates := ScheduleDates(round, len(res.Picks), cal)
	list := make([]Inspection, len(res.Picks))
	for i, pk := range res.Picks {
		list[i] = Inspection{ID: uuid.Must(uuid.NewV7()), Round: round, Rank: pk.Rank, PropertyID: pk.PropertyID,
			InspectorIDs: slices.Clone(pk.InspectorIDs), ScheduledOn: dates[i], Version: 1}
	}
	return r, list
}

// Replay is a stored round drawn again from its recorded snapshots and seed.
type Replay struct {
	Round  *Round
	Result *DrawResult
	// HashesMatch: the stored snapshots hash to the recorded hashes.
	HashesMatch bool
	// Matches: the replayed picks equal the stored inspections (targets,
	// order and inspectors).
	Matches     bool
	Differences []string
}

// ReplayDraw draws a stored round again from the register snapshots it was
// drawn from and its recorded seed, and compares with what was stored: the
// proof that a draw was not steered. Anyone who may see the round may
// replay it; NOT_FOUND otherwise.
func (s *Service) ReplayDraw(ctx context.Context, round string) (*Replay, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	r, err := s.visibleRound(ctx, d, round)
	if err != nil {
		return nil, err
	}
	tSnap, iSnap, err := s.store.RoundSnapshots(ctx, round)
	if err != nil {
		return nil, err
	}
	out := &Replay{Round: r, HashesMatch: Hash(tSnap) == r.TargetsHash && Hash(iSnap) == r.InspectorsHash}
	if !out.HashesMatch {
		out.Differences = append(out.Differences, "the stored register snapshots do not hash to the recorded hashes")
	}
	reg, err := DecodeRegisters(tSnap, iSnap)
	if err != nil {
		return nil, fmt.Errorf("replay round %s: %w", round, err)
	}
	res, err := Draw(reg, r.Seed, r.Ratio, r.PerTarget)
	if err != nil {
		return nil, fmt.Errorf("replay round %s: %w", round, err)
	}
	out.Result = res
	stored, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	out.Differences = append(out.Differences, ComparePicks(res.Picks, stored)...)
	out.Matches = len(out.Differences) == 0
	return out, nil
}

// ComparePicks lists how stored inspections differ from a draw's picks
// (nothing when they agree).
func ComparePicks(picks []Pick, stored []Inspection) []string {
	var diff []string
	if len(picks) != len(stored) {
		diff = append(diff, fmt.Sprintf("the draw has %d targets, %d inspections are stored", len(picks), len(stored)))
	}
	byRank := make(map[int]*Inspection, len(stored))
	for i := range stored {
		byRank[stored[i].Rank] = &stored[i]
	}
	for _, pk := range picks {
		in := byRank[pk.Rank]
		switch {
		case in == nil:
			diff = append(diff, fmt.Sprintf("rank %d: drawn %s, nothing stored", pk.Rank, pk.PropertyID))
		case in.PropertyID != pk.PropertyID:
			diff = append(diff, fmt.Sprintf("rank %d: drawn %s, stored %s", pk.Rank, pk.PropertyID, in.PropertyID))
		case !slices.Equal(in.InspectorIDs, pk.InspectorIDs):
			diff = append(diff, fmt.Sprintf("rank %d: drawn inspectors %v, stored %v", pk.Rank, pk.InspectorIDs, in.InspectorIDs))
		}
	}
	return diff
}

// ResultInput records an inspection's outcome.
type ResultInput struct {
	Result   Result
	Findings string
	// Version, when set, must equal the inspection's current version.
	Version *int
}

// RecordResult records (or corrects) an inspection's result before its
// round is published. Only housing's officers and administrators
// (FORBIDDEN); BAD_USER_INPUT for an unknown result or a RECTIFY or FAIL
// without findings; CONFLICT once the round is published or for a stale
// version; NOT_FOUND for an unknown inspection.
func (s *Service) RecordResult(ctx context.Context, id uuid.UUID, in ResultInput) (*Inspection, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !mayManageInspections(d, access.PrincipalFrom(ctx)) {
		return nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may record inspection results")
	}
	in.Findings = strings.TrimSpace(in.Findings)
	switch {
	case !in.Result.Valid():
		return nil, apperr.Invalid("result", "unknown result %q (PASS, RECTIFY or FAIL)", in.Result)
	case in.Result != ResultPass && in.Findings == "":
		return nil, apperr.Invalid("findings", "a %s result needs findings: what is wrong and what must be done", in.Result)
	case utf8.RuneCountInString(in.Findings) > 2000:
		return nil, apperr.Invalid("findings", "the findings are limited to 2000 characters")
	}
	// Looked up within the caller's scope on compounds: an inspection of a
	// compound it cannot see is missing to it.
	ins, err := s.store.Inspection(ctx, d.Rows, id)
	if err != nil {
		return nil, err
	}
	if ins.Published {
		return nil, apperr.New(apperr.Conflict, "round %s is published: its results can no longer change", ins.Round)
	}
	if in.Version != nil && *in.Version != ins.Version {
		return nil, apperr.New(apperr.Conflict, "the inspection has changed since you loaded it (your version %d, current version %d); reload and try again", *in.Version, ins.Version)
	}
	now := s.Now()
	prev := ins.Version
	ins.Result, ins.Findings, ins.RecordedAt = in.Result, in.Findings, &now
	ins.Version++
	if err := s.store.RecordResult(ctx, ins, prev); err != nil {
		return nil, err
	}
	return ins, nil
}

// PublishRound publishes a round's results to the public (一公开). Only
// housing's officers and administrators (FORBIDDEN); NOT_FOUND for an
// unknown round; BAD_USER_INPUT while inspections lack a result; CONFLICT
// when it is already published.
func (s *Service) PublishRound(ctx context.Context, round string) (*Round, error) {
	d, err := s.Decide(ctx)
	if err != nil {
		return nil, err
	}
	if !mayManageInspections(d, access.PrincipalFrom(ctx)) {
		return nil, apperr.New(apperr.Forbidden, "only housing officers and administrators may publish inspection rounds")
	}
	r, err := s.store.Round(ctx, round)
	if err != nil {
		return nil, err
	}
	if r.Published {
		return nil, apperr.New(apperr.Conflict, "round %s is already published", round)
	}
	list, err := s.store.RoundInspections(ctx, round)
	if err != nil {
		return nil, err
	}
	pending := 0
	for _, in := range list {
		if in.Result == "" {
			pending++
		}
	}
	if pending > 0 {
		return nil, apperr.New(apperr.BadUserInput, "%d of the %d inspections of round %s have no result yet; record them before publishing", pending, len(list), round)
	}
	now := s.Now()
	if err := s.store.PublishRound(ctx, round, now); err != nil {
		return nil, err
	}
	r.Published, r.PublishedAt = true, &now
	return r, nil
}
