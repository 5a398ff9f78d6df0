package gatekeeper

import (
	"fmt"
	"math/rand/v2"
)

// podGen makes random pods that exercise the pod-security-policy templates
// and the general ones: every field they read, with values each sample
// constraint allows and refuses, and some the API server would not accept
// (the engines see raw objects in gator and audit).
type podGen struct{ r *rand.Rand }

func (g podGen) pick(xs ...any) any { return xs[g.r.IntN(len(xs))] }

func (g podGen) maybe(p float64) bool { return g.r.Float64() < p }

// set puts v at m[k] unless v is nil (absent).
func set(m map[string]any, k string, v any) {
	if v != nil {
		m[k] = v
	}
}

var (
	images = []any{
		"nginx", "nginx:latest", "nginx:1.25", "nginx-exempt", "specialprogram",
		"openpolicyagent/opa:0.9.2", "openpolicyagent/opa-exp:latest", "openpolicyagent/opa:latest",
		"safeimages.com/app:1", "safe-images.com/x:2", "docker.io/library/nginx:latest",
		"registry.example.com:5000/team/app@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"localhost:5000/app", "busybox:latest@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	}
	capabilities = []string{"ALL", "NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN", "NET_RAW", "KILL", "SYS_TIME", "all"}
	sysctls      = []string{
		"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
		"kernel.msgmax", "net.core.somaxconn", "vm.swappiness", "net.ipv4.ping_group_range",
	}
	seccompAnnotations = []any{"runtime/default", "docker/default", "unconfined", "localhost/profile.json", "localhost/other.json", ""}
	apparmorProfiles   = []any{"runtime/default", "localhost/custom", "unconfined", "localhost/"}
	cpus               = []any{nil, "100m", "200m", "250m", "1", "1.5", "2", 1, 0.1, "300m", "1000m", "abc"}
	memories           = []any{nil, "512Mi", "1Gi", "2Gi", "1G", "1500M", "100", "1024Mi", 1073741824, "1.5Gi", "1e3", "xyz"}
)

func (g podGen) seccompProfile() any {
	switch g.r.IntN(5) {
	case 0:
		return nil
	case 1:
		return map[string]any{"type": "RuntimeDefault"}
	case 2:
		return map[string]any{"type": "Unconfined"}
	case 3:
		return map[string]any{"type": "Localhost", "localhostProfile": g.pick("profile.json", "other.json")}
	default:
		return map[string]any{"type": "Localhost"}
	}
}

func (g podGen) appArmorProfile() any {
	switch g.r.IntN(5) {
	case 0, 1:
		return nil
	case 2:
		return map[string]any{"type": "RuntimeDefault"}
	case 3:
		return map[string]any{"type": "Unconfined"}
	default:
		return map[string]any{"type": "Localhost", "localhostProfile": "custom"}
	}
}

func (g podGen) seLinux() any {
	if !g.maybe(0.3) {
		return nil
	}
	o := map[string]any{}
	set(o, "type", g.pick(nil, "container_t", "spc_t", "container_init_t"))
	set(o, "level", g.pick(nil, "s0:c123,c456"))
	set(o, "user", g.pick(nil, "system_u"))
	return o
}

func (g podGen) boolOrNil() any { return g.pick(nil, true, false) }

func (g podGen) strings(from []string, max int) []any {
	var out []any
	for range g.r.IntN(max + 1) {
		out = append(out, from[g.r.IntN(len(from))])
	}
	return out
}

func (g podGen) securityContext() any {
	if g.maybe(0.2) {
		return nil
	}
	sc := map[string]any{}
	set(sc, "privileged", g.pick(nil, nil, true, false))
	set(sc, "allowPrivilegeEscalation", g.boolOrNil())
	set(sc, "readOnlyRootFilesystem", g.boolOrNil())
	set(sc, "runAsNonRoot", g.boolOrNil())
	set(sc, "runAsUser", g.pick(nil, 0, 1000, 65534, 100))
	set(sc, "runAsGroup", g.pick(nil, 0, 1000, 3000))
	set(sc, "procMount", g.pick(nil, nil, "Default", "Unmasked"))
	set(sc, "seccompProfile", g.seccompProfile())
	set(sc, "appArmorProfile", g.appArmorProfile())
	set(sc, "seLinuxOptions", g.seLinux())
	if g.maybe(0.1) {
		sc["windowsOptions"] = map[string]any{"hostProcess": g.r.IntN(2) == 0}
	}
	if g.maybe(0.6) {
		caps := map[string]any{}
		if add := g.strings(capabilities, 2); add != nil {
			caps["add"] = add
		}
		if drop := g.strings(capabilities, 2); drop != nil {
			caps["drop"] = drop
		}
		sc["capabilities"] = caps
	}
	return sc
}

func (g podGen) resources() any {
	if g.maybe(0.15) {
		return nil
	}
	res := map[string]any{}
	for _, k := range []string{"limits", "requests"} {
		if g.maybe(0.2) {
			continue
		}
		m := map[string]any{}
		set(m, "cpu", g.pick(cpus...))
		set(m, "memory", g.pick(memories...))
		res[k] = m
	}
	return res
}

func (g podGen) probe() any {
	if !g.maybe(0.3) {
		return nil
	}
	handler := map[string]any{"port": g.pick(80, 8080, "http")}
	set(handler, "host", g.pick(nil, "example.com", "", "10.0.0.1"))
	if g.r.IntN(2) == 0 {
		return map[string]any{"httpGet": handler}
	}
	return map[string]any{"tcpSocket": handler}
}

func (g podGen) container(name string, volumes []string) map[string]any {
	c := map[string]any{"name": name, "image": g.pick(images...)}
	set(c, "securityContext", g.securityContext())
	set(c, "resources", g.resources())
	if g.maybe(0.4) {
		port := map[string]any{"containerPort": g.pick(80, 8080, 443)}
		set(port, "hostPort", g.pick(nil, 0, 80, 8080, 9999, 22))
		c["ports"] = []any{port}
	}
	set(c, "livenessProbe", g.probe())
	set(c, "readinessProbe", g.probe())
	set(c, "startupProbe", g.probe())
	if g.maybe(0.2) {
		c["lifecycle"] = map[string]any{"postStart": map[string]any{"httpGet": map[string]any{"host": "example.com", "port": 80}}}
	}
	var mounts []any
	for _, v := range volumes {
		if g.maybe(0.6) {
			m := map[string]any{"name": v, "mountPath": "/mnt/" + v}
			set(m, "readOnly", g.boolOrNil())
			mounts = append(mounts, m)
		}
	}
	if mounts != nil {
		c["volumeMounts"] = mounts
	}
	return c
}

func (g podGen) volume(name string) map[string]any {
	v := map[string]any{"name": name}
	switch g.r.IntN(8) {
	case 0, 1:
		hp := map[string]any{"path": g.pick("/foo", "/foo/bar", "/etc", "/var/run/docker.sock", "/foobar", "/")}
		set(hp, "type", g.pick(nil, "Directory"))
		v["hostPath"] = hp
	case 2:
		v["emptyDir"] = map[string]any{}
	case 3:
		v["configMap"] = map[string]any{"name": "cm"}
	case 4:
		v["secret"] = map[string]any{"secretName": "s"}
	case 5:
		v["flexVolume"] = map[string]any{"driver": g.pick("example/lvm", "example/cifs", "example/other")}
	case 6:
		v["persistentVolumeClaim"] = map[string]any{"claimName": "c"}
	default:
		v["gcePersistentDisk"] = map[string]any{"pdName": "d"}
	}
	return v
}

// pod is a random Pod named after i.
func (g podGen) pod(i int) map[string]any {
	meta := map[string]any{"name": fmt.Sprintf("pod-%d", i)}
	set(meta, "namespace", g.pick(nil, "default", "default", "kube-system", "prod"))
	labels := map[string]any{}
	for _, l := range []struct {
		key    string
		values []any
	}{
		{"app", []any{"web", "db"}},
		{"pizza", []any{"pepperoni", ""}},
		{"owner", []any{"alice.agilebank.demo", "bob"}},
	} {
		if g.maybe(0.4) {
			labels[l.key] = g.pick(l.values...)
		}
	}
	if len(labels) > 0 {
		meta["labels"] = labels
	}

	spec := map[string]any{}
	set(spec, "hostPID", g.pick(nil, nil, true, false))
	set(spec, "hostIPC", g.pick(nil, nil, true, false))
	set(spec, "hostNetwork", g.pick(nil, nil, true, false))
	if g.maybe(0.8) {
		psc := map[string]any{}
		set(psc, "runAsUser", g.pick(nil, 0, 1000, 65534))
		set(psc, "runAsGroup", g.pick(nil, 0, 1000))
		set(psc, "runAsNonRoot", g.boolOrNil())
		set(psc, "fsGroup", g.pick(nil, 0, 500, 2000))
		if g.maybe(0.3) {
			psc["supplementalGroups"] = []any{g.pick(0, 100, 5000)}
		}
		set(psc, "seccompProfile", g.seccompProfile())
		set(psc, "appArmorProfile", g.appArmorProfile())
		set(psc, "seLinuxOptions", g.seLinux())
		if g.maybe(0.3) {
			var s []any
			for _, n := range g.strings(sysctls, 2) {
				s = append(s, map[string]any{"name": n, "value": "1"})
			}
			set(psc, "sysctls", s)
		}
		if g.maybe(0.1) {
			psc["windowsOptions"] = map[string]any{"hostProcess": g.r.IntN(2) == 0}
		}
		spec["securityContext"] = psc
	}

	var volumes []any
	var volumeNames []string
	for j := range g.r.IntN(3) {
		name := fmt.Sprintf("v%d", j)
		volumes = append(volumes, g.volume(name))
		volumeNames = append(volumeNames, name)
	}
	if volumes != nil {
		spec["volumes"] = volumes
	}

	annotations := map[string]any{}
	if g.maybe(0.3) {
		annotations["seccomp.security.alpha.kubernetes.io/pod"] = g.pick(seccompAnnotations...)
	}
	addContainers := func(field, prefix string, min, max int) {
		var cs []any
		for j := range min + g.r.IntN(max-min+1) {
			name := fmt.Sprintf("%s%d", prefix, j)
			cs = append(cs, g.container(name, volumeNames))
			if g.maybe(0.3) {
				annotations["container.apparmor.security.beta.kubernetes.io/"+name] = g.pick(apparmorProfiles...)
			}
			if g.maybe(0.2) {
				annotations["container.seccomp.security.alpha.kubernetes.io/"+name] = g.pick(seccompAnnotations...)
			}
		}
		if cs != nil {
			spec[field] = cs
		}
	}
	addContainers("containers", "c", 1, 3)
	if g.maybe(0.4) {
		addContainers("initContainers", "i", 1, 2)
	}
	if g.maybe(0.2) {
		addContainers("ephemeralContainers", "e", 1, 1)
	}
	if len(annotations) > 0 {
		meta["annotations"] = annotations
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
}
