# Seed 004's plain OPA admission policy, verbatim in spirit: the whole
# AdmissionReview is the input; every deny message refuses the request.
package kubernetes.admission

deny[message] {
  input.request.kind.kind == "Pod"
  container := input.request.object.spec.containers[_]
  container.securityContext.privileged
  message := sprintf("privileged container %v is not allowed", [container.name])
}
