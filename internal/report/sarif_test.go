package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestWriteSARIFEmptyResults(t *testing.T) {
	var b bytes.Buffer
	if err := WriteSARIF(&b, NewLog(Run{Tool: Tool{Driver: Driver{Name: "kguard"}}})); err != nil {
		t.Fatal(err)
	}
	want := `{
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "runs": [
    {
      "results": [],
      "tool": {
        "driver": {
          "name": "kguard"
        }
      }
    }
  ],
  "version": "2.1.0"
}
`
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestWriteSARIFRoundTrip(t *testing.T) {
	in := NewLog(Run{
		Tool: Tool{Driver: Driver{Name: "kguard", Version: "v1", InformationURI: "https://example.test", Rules: []ReportingDescriptor{{
			ID: "R1", Name: "RuleOne", ShortDescription: &Message{Text: "one"}, FullDescription: &Message{Text: "rule one", Markdown: "rule **one**"},
			Help: &Message{Text: "fix it"}, HelpURI: "https://example.test/r1", DefaultConfiguration: &ReportingConfiguration{Level: LevelWarning},
			Properties: PropertyBag{"security-severity": "5.0"},
		}}}},
		Results: []Result{{
			RuleID: "R1", Level: LevelNote, Message: Message{Text: "found <one> & more"}, Properties: PropertyBag{"scope": "cluster"},
			Locations: []Location{{
				PhysicalLocation: &PhysicalLocation{ArtifactLocation: ArtifactLocation{URI: "a.yaml"}, Region: &Region{StartLine: 3, StartColumn: 1, EndLine: 4, EndColumn: 2}},
				LogicalLocations: []LogicalLocation{{Name: "x", FullyQualifiedName: "Role ns/x", Kind: "resource"}},
			}},
		}},
	})
	var b bytes.Buffer
	if err := WriteSARIF(&b, in); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(b.String(), "}\n") || !strings.Contains(b.String(), "\n  \"runs\": [") {
		t.Errorf("not indented JSON with a final newline:\n%s", b.String())
	}
	dec := json.NewDecoder(&b)
	dec.DisallowUnknownFields()
	var out Log
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&out)
	if err != nil {
		t.Fatal(err)
	}
	first, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Errorf("round trip changed the document:\n%s\n%s", first, again)
	}
}
