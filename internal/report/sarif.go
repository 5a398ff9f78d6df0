package report

import (
	"encoding/json"
	"io"
)

// SARIF 2.1.0 (OASIS, https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the
// subset kguard writes. Required properties have no omitempty.
//
// Fields are declared in alphabetical order of their JSON names: kguard wrote
// SARIF from maps before these types, which encoding/json sorts, and the
// order keeps its output byte for byte.

// The values of Log.Schema and Log.Version.
const (
	SARIFSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
	SARIFVersion = "2.1.0"
)

// Level is the severity of a result or a rule's default (§3.27.10).
type Level string

// The levels of SARIF 2.1.0.
const (
	LevelNone    Level = "none"
	LevelNote    Level = "note"
	LevelWarning Level = "warning"
	LevelError   Level = "error"
)

// Log is a SARIF document (sarifLog, §3.13).
type Log struct {
	Schema  string `json:"$schema,omitempty"`
	Runs    []Run  `json:"runs"`
	Version string `json:"version"`
}

// NewLog is a SARIF 2.1.0 document of runs.
func NewLog(runs ...Run) *Log {
	return &Log{Schema: SARIFSchema, Runs: runs, Version: SARIFVersion}
}

// Run is one run of one tool (§3.14). Results is written as [] when empty: a
// run that found nothing, where its absence would mean the tool did not look.
type Run struct {
	Results []Result `json:"results"`
	Tool    Tool     `json:"tool"`
}

// Tool is the tool that produced a run (§3.18).
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool's main component, with the rules its results refer to
// (toolComponent, §3.19).
type Driver struct {
	InformationURI string                `json:"informationUri,omitempty"`
	Name           string                `json:"name"`
	Rules          []ReportingDescriptor `json:"rules,omitempty"`
	Version        string                `json:"version,omitempty"`
}

// ReportingDescriptor describes a rule (§3.49).
type ReportingDescriptor struct {
	DefaultConfiguration *ReportingConfiguration `json:"defaultConfiguration,omitempty"`
	FullDescription      *Message                `json:"fullDescription,omitempty"`
	Help                 *Message                `json:"help,omitempty"`
	HelpURI              string                  `json:"helpUri,omitempty"`
	ID                   string                  `json:"id"`
	Name                 string                  `json:"name,omitempty"`
	Properties           PropertyBag             `json:"properties,omitempty"`
	ShortDescription     *Message                `json:"shortDescription,omitempty"`
}

// ReportingConfiguration is a rule's default configuration (§3.50).
type ReportingConfiguration struct {
	Level Level `json:"level,omitempty"`
}

// Result is one finding (§3.27).
type Result struct {
	Level      Level       `json:"level,omitempty"`
	Locations  []Location  `json:"locations,omitempty"`
	Message    Message     `json:"message"`
	Properties PropertyBag `json:"properties,omitempty"`
	RuleID     string      `json:"ruleId,omitempty"`
}

// Message is a message (§3.11) or a multiformatMessageString (§3.12): plain
// text, and optionally Markdown.
type Message struct {
	Markdown string `json:"markdown,omitempty"`
	Text     string `json:"text"`
}

// Location is where a result was found (§3.28).
type Location struct {
	LogicalLocations []LogicalLocation `json:"logicalLocations,omitempty"`
	PhysicalLocation *PhysicalLocation `json:"physicalLocation,omitempty"`
}

// PhysicalLocation is a place in a file (§3.29).
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation names a file (§3.4).
type ArtifactLocation struct {
	URI string `json:"uri"`
}

// Region is a part of a file, its lines and columns counted from 1 (§3.30).
type Region struct {
	EndColumn   int `json:"endColumn,omitempty"`
	EndLine     int `json:"endLine,omitempty"`
	StartColumn int `json:"startColumn,omitempty"`
	StartLine   int `json:"startLine,omitempty"`
}

// LogicalLocation is a named thing, such as a Kubernetes object (§3.33).
type LogicalLocation struct {
	FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
	Kind               string `json:"kind,omitempty"`
	Name               string `json:"name,omitempty"`
}

// PropertyBag holds properties SARIF does not define (§3.8).
type PropertyBag map[string]any

// WriteSARIF writes log as indented JSON, each run's missing results as [].
func WriteSARIF(w io.Writer, log *Log) error {
	out := *log
	out.Runs = make([]Run, len(log.Runs))
	for i, r := range log.Runs {
		if r.Results == nil {
			r.Results = []Result{}
		}
		out.Runs[i] = r
	}
	return WriteJSON(w, &out)
}

// WriteJSON writes v as JSON indented by two spaces, with a final newline:
// kguard's -o json.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
