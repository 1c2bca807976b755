package postgres

import (
	"fmt"
	"sync"
	"testing"
	"unsafe"
)

// TestInternTableSharesAndStaysBounded: the same bytes give one shared
// string; once the table is full, new values are still right, just not kept.
func TestInternTableSharesAndStaysBounded(t *testing.T) {
	tab := &internTable{m: map[string]string{}, max: 2}
	a, b := tab.get([]byte("urban-management")), tab.get([]byte("urban-management"))
	if a != "urban-management" || unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatalf("two reads of one value: %q %q not shared", a, b)
	}
	tab.get([]byte("water"))
	c, d := tab.get([]byte("housing")), tab.get([]byte("housing"))
	if c != "housing" || d != "housing" || len(tab.m) != 2 {
		t.Fatalf("past the bound: %q %q, %d kept", c, d, len(tab.m))
	}
	// The row buffer pgx lends is reused for the next row: the string must
	// not alias it.
	buf := []byte("street-chengdong")
	s := tab.get(buf)
	copy(buf, "XXXXXX")
	if s != "street-chengdong" {
		t.Fatalf("interned string changed with the row buffer: %q", s)
	}
}

func TestInternTableConcurrent(t *testing.T) {
	tab := &internTable{m: map[string]string{}, max: 100}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				v := fmt.Sprintf("code-%d", (i+g)%150)
				if got := tab.get([]byte(v)); got != v {
					t.Errorf("got %q, want %q", got, v)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(tab.m) > 100 {
		t.Fatalf("%d kept, bound 100", len(tab.m))
	}
}
