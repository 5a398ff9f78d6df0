package severity

import "testing"

func TestParseAndString(t *testing.T) {
	for i, name := range []string{"info", "low", "medium", "high", "critical"} {
		s, err := Parse(name)
		if err != nil || s != Severity(i) || s.String() != name {
			t.Errorf("Parse(%q) = %v, %v", name, s, err)
		}
	}
	if s, err := Parse("HIGH"); err != nil || s != High {
		t.Errorf("Parse(HIGH) = %v, %v", s, err)
	}
	if _, err := Parse("severe"); err == nil {
		t.Error("Parse(severe) accepted")
	}
	if !(Info < Low && Low < Medium && Medium < High && High < Critical) {
		t.Error("severities out of order")
	}
	if got := Severity(9).String(); got != "Severity(9)" {
		t.Errorf("out of range: %q", got)
	}
}
