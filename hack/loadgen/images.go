package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// The image mode (-images FILE): pods whose containers name signed images by
// tag, for kguard serve with the ClusterImagePolicy plugin (hack/loadtest.sh
// with LOADTEST=images). Every answer must allow the pod, and every /mutate
// answer must carry a JSON Patch that replaces each container's image by the
// digest reference the file gives for its tag (and nothing else): anything
// else is an error ("unexpected-decision", "missing-patch", "wrong-patch").

// imageRef is one line of -images: the tag the pods name, the reference
// (repository@sha256:…) kguard must pin it to.
type imageRef struct{ tag, pinned string }

// readImages reads "TAG PINNED" lines ('#' comments and blank lines skipped).
func readImages(path string) ([]imageRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []imageRef
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 || !strings.Contains(fields[1], "@sha256:") {
			return nil, fmt.Errorf("-images %s: %q: want \"TAG REPOSITORY@sha256:DIGEST\"", path, line)
		}
		out = append(out, imageRef{tag: fields[0], pinned: fields[1]})
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-images %s: no images", path)
	}
	return out, nil
}

// imagePod is the load's restricted web pod (admitted by Pod Security at
// every level) with one container per image.
func imagePod(n int, name string, imgs []imageRef) *corev1.Pod {
	p := webPod(n, nil)
	p.Name = name
	p.Spec.Containers = nil
	for i, im := range imgs {
		p.Spec.Containers = append(p.Spec.Containers, webContainer(fmt.Sprintf("c%d", i), im.tag, int32(8080+i)))
	}
	return p
}

// imageCase is an admission of imagePod, to be allowed; on /mutate, with the
// pins expected.
func imageCase(endpoint string, n int, imgs []imageRef) reqCase {
	c := admissionCase(endpoint, fmt.Sprintf("pod-%d-images", len(imgs)), n, imagePod(n, fmt.Sprintf("signed-%04d", n), imgs), true)
	if endpoint == epMutate {
		for _, im := range imgs {
			c.pins = append(c.pins, im.pinned)
		}
	}
	return c
}

// imagePool prepares size requests: endpoints by mix, namespaces uniformly,
// perPod distinct images per pod in a random order.
func imagePool(r *rand.Rand, m mix, size int, imgs []imageRef, perPod int) []reqCase {
	out := make([]reqCase, 0, size)
	total := m.mutate + m.validate
	for range size {
		n := r.IntN(numNamespaces)
		ep := epValidate
		if r.IntN(total) < m.mutate {
			ep = epMutate
		}
		var pick []imageRef
		for _, i := range r.Perm(len(imgs))[:perPod] {
			pick = append(pick, imgs[i])
		}
		out = append(out, imageCase(ep, n, pick))
	}
	return out
}

// checkPins reads a /mutate answer's patch: it must be a JSON Patch whose
// operations replace exactly /spec/containers/i/image by pins[i].
func checkPins(body []byte, pins []string) (string, string) {
	var ar struct {
		Response *struct {
			Patch     []byte  `json:"patch"`
			PatchType *string `json:"patchType"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &ar); err != nil || ar.Response == nil {
		return "unreadable-review", truncate(string(body))
	}
	if len(ar.Response.Patch) == 0 || ar.Response.PatchType == nil || *ar.Response.PatchType != "JSONPatch" {
		return "missing-patch", truncate(string(body))
	}
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(ar.Response.Patch, &ops); err != nil {
		return "wrong-patch", fmt.Sprintf("%v: %s", err, truncate(string(ar.Response.Patch)))
	}
	seen := make([]bool, len(pins))
	for _, op := range ops {
		var i int
		var v string
		if _, err := fmt.Sscanf(op.Path, "/spec/containers/%d/image", &i); err != nil || op.Path != fmt.Sprintf("/spec/containers/%d/image", i) ||
			i < 0 || i >= len(pins) || seen[i] || (op.Op != "replace" && op.Op != "add") ||
			json.Unmarshal(op.Value, &v) != nil || v != pins[i] {
			return "wrong-patch", fmt.Sprintf("unexpected operation %s %s %s; want %v: %s", op.Op, op.Path, op.Value, pins, truncate(string(ar.Response.Patch)))
		}
		seen[i] = true
	}
	for i, ok := range seen {
		if !ok {
			return "wrong-patch", fmt.Sprintf("container %d not pinned to %s: %s", i, pins[i], truncate(string(ar.Response.Patch)))
		}
	}
	return "", ""
}

// warmImages sends one /mutate review per image (a pod of that image alone),
// one after the other, so that the load finds every tag resolution and
// verdict cached; each answer is checked as the load's are. The latencies
// (cold: tag resolved, signatures read and verified) go to stderr.
func warmImages(snd sender, imgs []imageRef) error {
	var buf bytes.Buffer
	for i, im := range imgs {
		c := imageCase(epMutate, i%numNamespaces, []imageRef{im})
		u := c.body(&buf, uint64(1)<<40|uint64(i))
		begin := time.Now()
		_, status, body, err := snd.send(epMutate, buf.Bytes())
		lat := time.Since(begin)
		if err != nil {
			return fmt.Errorf("warming %s: %w", im.tag, err)
		}
		if status != http.StatusOK {
			return fmt.Errorf("warming %s: HTTP %d: %s", im.tag, status, truncate(string(body)))
		}
		allowed, kind, detail := check(epMutate, u, body)
		if kind == "" && !allowed {
			kind, detail = "unexpected-decision", truncate(string(body))
		}
		if kind == "" {
			kind, detail = checkPins(body, c.pins)
		}
		if kind != "" {
			return fmt.Errorf("warming %s: %s: %s", im.tag, kind, detail)
		}
		fmt.Fprintf(os.Stderr, "loadgen: warmed %s → %s in %.1f ms\n", im.tag, im.pinned, float64(lat.Microseconds())/1e3)
	}
	return nil
}

var errImageMix = errors.New("-images: the load is pods only; --mix may name mutate and validate, not authorize")
