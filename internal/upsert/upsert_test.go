package upsert

import (
	"context"
	"errors"
	"testing"

	"github.com/fengcheng/datahub/internal/apperr"
)

func TestRunGoesRoundOnceAfterARace(t *testing.T) {
	rounds := 0
	res, err := Run(context.Background(), func(context.Context) (Result[string], error) {
		rounds++
		if rounds == 1 {
			return Result[string]{}, ErrRaced
		}
		return Result[string]{Record: "lot", Outcome: Unchanged}, nil
	})
	if err != nil || rounds != 2 || res.Outcome != Unchanged || res.Record != "lot" {
		t.Fatalf("after a race: %+v %v in %d rounds", res, err, rounds)
	}
	rounds = 0
	_, err = Run(context.Background(), func(context.Context) (Result[string], error) {
		rounds++
		return Result[string]{}, ErrRaced
	})
	if !errors.Is(err, ErrRaced) || rounds != 2 {
		t.Fatalf("racing twice: %v in %d rounds, want the race after two", err, rounds)
	}
	rounds = 0
	_, err = Run(context.Background(), func(context.Context) (Result[string], error) {
		rounds++
		return Result[string]{}, apperr.New(apperr.Forbidden, "no")
	})
	if !apperr.Is(err, apperr.Forbidden) || rounds != 1 {
		t.Fatalf("a refusal: %v in %d rounds, want it at once", err, rounds)
	}
}

func TestRaced(t *testing.T) {
	conflict := apperr.New(apperr.Conflict, "version moved")
	v := 3
	if err := Raced(conflict, nil); !errors.Is(err, ErrRaced) || !apperr.Is(err, apperr.Conflict) {
		t.Errorf("no version named: %v, want a race that keeps its code", err)
	}
	if err := Raced(conflict, &v); errors.Is(err, ErrRaced) {
		t.Errorf("a version named: %v, want the CONFLICT itself", err)
	}
	if err := Raced(errors.New("disk"), nil); errors.Is(err, ErrRaced) {
		t.Errorf("another error: %v taken for a race", err)
	}
}
