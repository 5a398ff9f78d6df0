// Package netpol checks the NetworkPolicies kguard renders for Tenants
// against NetworkPolicy semantics, with the matcher of cyclonus
// (github.com/mattfenwick/cyclonus/pkg/matcher) as the evaluator. A separate
// module so that kguard never depends on cyclonus; being under kguard's path
// it may use kguard's internal packages.
package netpol
