// Command render renders a Helm chart directory the way `helm template` does, for machines
// without a helm binary. It is not Helm: it is Go's text/template with Sprig v3 (the engine and
// function library Helm 3 uses), values read with sigs.k8s.io/yaml and checked against
// values.schema.json with xeipuuv/gojsonschema (what Helm 3 used up to 3.17), plus Helm's own
// template functions and objects written again from Helm's documented behaviour: include, tpl,
// required, toYaml, fromYaml, toJson, fromJson, lookup (empty, as in `helm template`),
// .Values, .Release, .Chart, .Capabilities, .Template and .Files (Get, Glob, AsConfig,
// AsSecrets, Lines). Chart files are read following symbolic links, as Helm does.
//
// Not covered: subcharts and dependencies, --set (use -f files), library charts, values
// templates, .helmignore beyond simple patterns, and Helm's linter rules.
//
// Usage:
//
//	render [-f values.yaml]... [-name release] [-namespace ns] [-kube-version v1.30.0]
//	       [-strict] [-notes] [-json out.jsonl] [-check-refs] [-check-comments] CHART_DIR
//
// Writes the manifests to stdout as `helm template` does ("# Source: ..." per file). With
// -json, also writes one JSON object per Kubernetes document (parsed with sigs.k8s.io/yaml,
// rejecting duplicate keys) for further validation. With -check-refs, reports every
// .Values.a.b.c path used in the templates that values.yaml does not define; with
// -check-comments, every values.yaml key without a comment of its own. With -strict, a
// missing map key is an error (Helm's `lint --strict`), not an empty value.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"github.com/gobwas/glob"
	"github.com/xeipuuv/gojsonschema"
	"sigs.k8s.io/yaml"
)

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// Metadata mirrors the fields of Helm's chart.Metadata that templates read (.Chart.Name ...).
type Metadata struct {
	Name         string            `json:"name"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Type         string            `json:"type,omitempty"`
	Dependencies []interface{}     `json:"dependencies,omitempty"`
	Maintainers  []interface{}     `json:"maintainers,omitempty"`
}

// KubeVersion and Capabilities mirror Helm's .Capabilities.
type KubeVersion struct {
	Version string
	Major   string
	Minor   string
}

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files mirrors Helm's .Files: chart files outside templates/ and the chart's own metadata.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte {
	if v, ok := f[name]; ok {
		return v
	}
	return nil
}
func (f Files) Get(name string) string { return string(f.GetBytes(name)) }
func (f Files) Glob(pattern string) Files {
	g, err := glob.Compile(pattern, '/')
	if err != nil {
		g, _ = glob.Compile("**")
	}
	out := Files{}
	for name, data := range f {
		if g.Match(name) {
			out[name] = data
		}
	}
	return out
}
func (f Files) AsConfig() (string, error) {
	if len(f) == 0 {
		return "", errors.New("must pass files")
	}
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = string(v)
	}
	return toYAML(m), nil
}
func (f Files) AsSecrets() (string, error) {
	if len(f) == 0 {
		return "", errors.New("must pass files")
	}
	m := map[string]string{}
	for k, v := range f {
		m[path.Base(k)] = base64.StdEncoding.EncodeToString(v)
	}
	return toYAML(m), nil
}
func (f Files) Lines(p string) ([]string, error) {
	if f == nil || f[p] == nil {
		return nil, errors.New("must pass files")
	}
	return strings.Split(string(f[p]), "\n"), nil
}

func toYAML(v interface{}) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "Error: "+format+"\n", args...)
	os.Exit(1)
}

func main() {
	var valueFiles multiFlag
	flag.Var(&valueFiles, "f", "values file (repeatable; later files win)")
	release := flag.String("name", "release-name", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.30.0", "Kubernetes version for .Capabilities and the chart's kubeVersion")
	strict := flag.Bool("strict", false, "fail on a missing map key instead of rendering it empty")
	notes := flag.Bool("notes", false, "print the rendered NOTES.txt to stderr")
	jsonOut := flag.String("json", "", "write each Kubernetes document as one JSON line to this file")
	checkRefs := flag.Bool("check-refs", false, "report .Values paths used in templates but missing from values.yaml")
	checkComments := flag.Bool("check-comments", false, "report values.yaml keys without a comment")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: render [flags] CHART_DIR")
	}
	chartDir := flag.Arg(0)

	files, err := loadChartFiles(chartDir)
	if err != nil {
		fail("%v", err)
	}
	meta := &Metadata{}
	if err := yaml.Unmarshal(files["Chart.yaml"], meta); err != nil {
		fail("Chart.yaml: %v", err)
	}
	if meta.APIVersion != "v2" || meta.Name == "" {
		fail("Chart.yaml: apiVersion must be v2 and name set")
	}
	if _, err := semver.StrictNewVersion(meta.Version); err != nil {
		fail("Chart.yaml: version %q is not SemVer 2: %v", meta.Version, err)
	}
	kv, err := semver.NewVersion(*kubeVersion)
	if err != nil {
		fail("-kube-version: %v", err)
	}
	if meta.KubeVersion != "" {
		c, err := semver.NewConstraint(meta.KubeVersion)
		if err != nil {
			fail("Chart.yaml: kubeVersion: %v", err)
		}
		if !c.Check(kv) {
			fail("chart requires kubeVersion %s which is incompatible with Kubernetes %s", meta.KubeVersion, *kubeVersion)
		}
	}

	if *checkComments {
		if missing := uncommentedKeys(string(files["values.yaml"])); len(missing) > 0 {
			fail("values.yaml keys without a comment (on the line above, at the same indentation, or at the end of the line):\n  %s",
				strings.Join(missing, "\n  "))
		}
	}

	defaults := map[string]interface{}{}
	if err := yaml.Unmarshal(files["values.yaml"], &defaults); err != nil {
		fail("values.yaml: %v", err)
	}
	user := map[string]interface{}{}
	for _, vf := range valueFiles {
		data, err := os.ReadFile(vf)
		if err != nil {
			fail("%v", err)
		}
		m := map[string]interface{}{}
		if err := yaml.Unmarshal(data, &m); err != nil {
			fail("%s: %v", vf, err)
		}
		user = mergeMaps(user, m)
	}
	values := coalesce(user, defaults)

	if schema, ok := files["values.schema.json"]; ok {
		if err := validateSchema(schema, values); err != nil {
			fail("values don't meet the specifications of the schema(s) in the following chart(s):\n%s:\n%s", meta.Name, err)
		}
	}

	if *checkRefs {
		missing := checkValueRefs(files, meta.Name, defaults)
		if len(missing) > 0 {
			fail(".Values paths used in templates but not defined in values.yaml:\n  %s", strings.Join(missing, "\n  "))
		}
	}

	rendered, err := render(files, meta, values, *release, *namespace, kv, *strict)
	if err != nil {
		fail("%v", err)
	}

	var names []string
	for name := range rendered {
		names = append(names, name)
	}
	sort.Strings(names)
	var jsonLines bytes.Buffer
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for _, name := range names {
		content := rendered[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			if *notes {
				fmt.Fprintf(os.Stderr, "NOTES:\n%s\n", content)
			}
			continue
		}
		if strings.TrimSpace(content) == "" {
			continue
		}
		for i, doc := range splitDocuments(content) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			j, err := yaml.YAMLToJSONStrict([]byte(doc))
			if err != nil {
				fail("YAML parse error on %s (document %d): %v\n%s", name, i+1, err, doc)
			}
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name string `json:"name"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(j, &head); err != nil || head.APIVersion == "" || head.Kind == "" || head.Metadata.Name == "" {
				fail("%s (document %d): every manifest needs apiVersion, kind and metadata.name\n%s", name, i+1, doc)
			}
			fmt.Fprintf(out, "---\n# Source: %s\n%s\n", name, strings.TrimSpace(doc))
			line, _ := json.Marshal(map[string]interface{}{"source": name, "object": json.RawMessage(j)})
			jsonLines.Write(line)
			jsonLines.WriteByte('\n')
		}
	}
	if *jsonOut != "" {
		if err := os.WriteFile(*jsonOut, jsonLines.Bytes(), 0o644); err != nil {
			fail("%v", err)
		}
	}
}

// loadChartFiles reads every file of the chart, following symbolic links (files and folders)
// like Helm's loader, minus what .helmignore excludes (simple patterns only).
func loadChartFiles(dir string) (map[string][]byte, error) {
	ignore := readHelmignore(filepath.Join(dir, ".helmignore"))
	files := map[string][]byte{}
	var walk func(real, rel string, depth int) error
	walk = func(real, rel string, depth int) error {
		if depth > 20 {
			return fmt.Errorf("%s: symbolic links nested too deep", rel)
		}
		entries, err := os.ReadDir(real)
		if err != nil {
			return err
		}
		for _, e := range entries {
			r := path.Join(rel, e.Name())
			p := filepath.Join(real, e.Name())
			info, err := os.Stat(p) // follows links
			if err != nil {
				return fmt.Errorf("%s: %v", r, err)
			}
			if ignored(ignore, r, info.IsDir()) {
				continue
			}
			if info.IsDir() {
				if err := walk(p, r, depth+1); err != nil {
					return err
				}
				continue
			}
			if !info.Mode().IsRegular() {
				return fmt.Errorf("cannot load irregular file %s", r)
			}
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			files[r] = data
		}
		return nil
	}
	if err := walk(dir, "", 0); err != nil {
		return nil, err
	}
	if _, ok := files["Chart.yaml"]; !ok {
		return nil, fmt.Errorf("%s: no Chart.yaml", dir)
	}
	return files, nil
}

func readHelmignore(p string) []string {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}

func ignored(patterns []string, rel string, isDir bool) bool {
	for _, p := range patterns {
		if strings.HasSuffix(p, "/") {
			if isDir && (rel == strings.TrimSuffix(p, "/") || path.Base(rel) == strings.TrimSuffix(p, "/")) {
				return true
			}
			continue
		}
		if ok, _ := path.Match(p, path.Base(rel)); ok {
			return true
		}
		if ok, _ := path.Match(p, rel); ok {
			return true
		}
	}
	return false
}

// mergeMaps merges b over a (later -f files win), keeping nulls for coalesce to act on.
func mergeMaps(a, b map[string]interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(a))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		if vm, ok := v.(map[string]interface{}); ok {
			if am, ok := out[k].(map[string]interface{}); ok {
				out[k] = mergeMaps(am, vm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// coalesce puts the chart's defaults under the user's values: maps merge deeply, anything else
// the user gave wins, and a user null deletes the default key (Helm's rules).
func coalesce(user, defaults map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range defaults {
		out[k] = v
	}
	for k, v := range user {
		if v == nil {
			delete(out, k)
			continue
		}
		um, uok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if uok && dok {
			out[k] = coalesce(um, dm)
			continue
		}
		out[k] = v
	}
	return out
}

func validateSchema(schema []byte, values map[string]interface{}) error {
	doc, err := json.Marshal(values)
	if err != nil {
		return err
	}
	result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(schema), gojsonschema.NewBytesLoader(doc))
	if err != nil {
		return fmt.Errorf("values.schema.json: %v", err)
	}
	if result.Valid() {
		return nil
	}
	var sb strings.Builder
	for _, e := range result.Errors() {
		fmt.Fprintf(&sb, "- %s\n", e)
	}
	return errors.New(strings.TrimSuffix(sb.String(), "\n"))
}

func funcMap() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	extra := template.FuncMap{
		"toYaml": toYAML,
		"fromYaml": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := yaml.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"fromYamlArray": func(s string) []interface{} {
			var a []interface{}
			if err := yaml.Unmarshal([]byte(s), &a); err != nil {
				a = []interface{}{err.Error()}
			}
			return a
		},
		"toJson": func(v interface{}) string {
			data, err := json.Marshal(v)
			if err != nil {
				return ""
			}
			return string(data)
		},
		"fromJson": func(s string) map[string]interface{} {
			m := map[string]interface{}{}
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				m["Error"] = err.Error()
			}
			return m
		},
		"fromJsonArray": func(s string) []interface{} {
			var a []interface{}
			if err := json.Unmarshal([]byte(s), &a); err != nil {
				a = []interface{}{err.Error()}
			}
			return a
		},
		"toToml": func(interface{}) (string, error) { return "", errors.New("toToml is not supported by this renderer") },
		// `helm template` has no cluster: lookup returns an empty map.
		"lookup": func(string, string, string, string) (map[string]interface{}, error) {
			return map[string]interface{}{}, nil
		},
		"include":  func(string, interface{}) string { return "not implemented" },
		"tpl":      func(string, interface{}) interface{} { return "not implemented" },
		"required": func(string, interface{}) (interface{}, error) { return "not implemented", nil },
	}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

var warnRegex = regexp.MustCompile(`HELM_ERR_START(.*)HELM_ERR_END`)

func render(files map[string][]byte, meta *Metadata, values map[string]interface{}, release, namespace string,
	kv *semver.Version, strict bool) (map[string]string, error) {
	chartFiles := Files{}
	templates := map[string]string{}
	for name, data := range files {
		switch {
		case strings.HasPrefix(name, "templates/"):
			templates[path.Join(meta.Name, name)] = string(data)
		case name == "Chart.yaml" || name == "values.yaml" || name == "values.schema.json" || strings.HasPrefix(name, "charts/"):
		default:
			chartFiles[name] = data
		}
	}
	top := map[string]interface{}{
		"Values": values,
		"Release": map[string]interface{}{
			"Name": release, "Namespace": namespace, "IsUpgrade": false, "IsInstall": true,
			"Revision": 1, "Service": "Helm",
		},
		"Chart": meta,
		"Capabilities": &Capabilities{
			KubeVersion: KubeVersion{Version: "v" + kv.String(), Major: fmt.Sprint(kv.Major()), Minor: fmt.Sprint(kv.Minor())},
			APIVersions: VersionSet{"v1", "apps/v1", "autoscaling/v2", "policy/v1", "networking.k8s.io/v1", "batch/v1"},
			HelmVersion: map[string]string{"Version": "render (not helm)"},
		},
		"Files": chartFiles,
	}

	t := template.New("gotpl")
	if strict {
		t.Option("missingkey=error")
	} else {
		t.Option("missingkey=zero")
	}
	fm := funcMap()
	included := map[string]int{}
	fm["include"] = func(name string, data interface{}) (string, error) {
		if included[name] > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		included[name]++
		defer func() { included[name]-- }()
		var buf strings.Builder
		err := t.ExecuteTemplate(&buf, name, data)
		return buf.String(), err
	}
	fm["tpl"] = func(text string, vals map[string]interface{}) (string, error) {
		clone, err := t.Clone()
		if err != nil {
			return "", err
		}
		name := "tpl"
		if tm, ok := vals["Template"].(map[string]interface{}); ok {
			if n, ok := tm["Name"].(string); ok {
				name = n + "#tpl"
			}
		}
		if _, err := clone.New(name).Parse(text); err != nil {
			return "", err
		}
		var buf strings.Builder
		if err := clone.ExecuteTemplate(&buf, name, vals); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	fm["required"] = func(warn string, val interface{}) (interface{}, error) {
		if val == nil {
			return val, errors.New("HELM_ERR_START" + warn + "HELM_ERR_END")
		}
		if s, ok := val.(string); ok && s == "" {
			return val, errors.New("HELM_ERR_START" + warn + "HELM_ERR_END")
		}
		return val, nil
	}
	t.Funcs(fm)

	names := make([]string, 0, len(templates))
	for name := range templates {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, err := t.New(name).Parse(templates[name]); err != nil {
			return nil, fmt.Errorf("parse error in %s: %v", name, err)
		}
	}
	out := map[string]string{}
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		vals := map[string]interface{}{}
		for k, v := range top {
			vals[k] = v
		}
		vals["Template"] = map[string]interface{}{"Name": name, "BasePath": path.Join(meta.Name, "templates")}
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, name, vals); err != nil {
			msg := err.Error()
			if m := warnRegex.FindStringSubmatch(msg); m != nil {
				msg = m[1]
			}
			return nil, fmt.Errorf("execution error in %s: %s", name, msg)
		}
		out[name] = strings.ReplaceAll(buf.String(), "<no value>", "")
	}
	return out, nil
}

var docSeparator = regexp.MustCompile(`(?m)^---[ \t]*(#.*)?$`)

func splitDocuments(s string) []string {
	return docSeparator.Split(s, -1)
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		b.WriteString(line)
		b.WriteByte('\n')
	}
	return b.String()
}

// checkValueRefs walks every template's parse tree and returns the .Values.a.b... paths (from
// field chains on . or $) that the chart's values.yaml does not define.
func checkValueRefs(files map[string][]byte, chartName string, defaults map[string]interface{}) []string {
	seen := map[string]bool{}
	var missing []string
	for name, data := range files {
		if !strings.HasPrefix(name, "templates/") {
			continue
		}
		trees, err := parse.Parse(name, string(data), "{{", "}}", map[string]interface{}(funcMap()), builtins)
		if err != nil {
			missing = append(missing, fmt.Sprintf("%s: cannot parse: %v", name, err))
			continue
		}
		for _, tree := range trees {
			walkNode(tree.Root, func(idents []string) {
				if len(idents) < 2 || idents[0] != "Values" {
					return
				}
				p := strings.Join(idents[1:], ".")
				if seen[name+p] {
					return
				}
				seen[name+p] = true
				if !pathExists(defaults, idents[1:]) {
					missing = append(missing, fmt.Sprintf("%s: .Values.%s", name, p))
				}
			})
		}
	}
	sort.Strings(missing)
	return missing
}

// nativeBlocks are values whose content is a Kubernetes structure, documented by the comment on
// the block itself (resources, security contexts, probe timings, node selectors, tolerations).
var nativeBlocks = map[string]bool{"podSecurityContext": true, "containerSecurityContext": true, "resources": true,
	"copyResources": true, "probes": true, "nodeSelector": true, "tolerations": true}

// A mapping key: a name, a colon, then a space or the end of the line (not "-XX:+Flag").
var keyLine = regexp.MustCompile(`^(\s*)([A-Za-z0-9_./"][A-Za-z0-9_./"-]*):(\s.*)?$`)

// uncommentedKeys returns the values.yaml keys with no comment of their own, outside
// nativeBlocks: the house style wants every value documented where it is set.
func uncommentedKeys(valuesYAML string) []string {
	type key struct {
		indent int
		name   string
	}
	var stack []key
	var missing []string
	lines := strings.Split(valuesYAML, "\n")
	for i, line := range lines {
		m := keyLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		covered := false
		for _, k := range stack {
			covered = covered || nativeBlocks[k.name]
		}
		stack = append(stack, key{indent, m[2]})
		if covered || strings.Contains(m[3], "#") {
			continue
		}
		if i > 0 {
			prev := lines[i-1]
			trimmed := strings.TrimLeft(prev, " ")
			if strings.HasPrefix(trimmed, "#") && len(prev)-len(trimmed) == indent {
				continue
			}
		}
		missing = append(missing, fmt.Sprintf("line %d: %s", i+1, strings.TrimSpace(line)))
	}
	return missing
}

// builtins names text/template's predefined functions, which parse.Parse must be told about.
var builtins = func() map[string]interface{} {
	m := map[string]interface{}{}
	for _, name := range []string{"and", "or", "not", "len", "index", "slice", "print", "printf", "println",
		"eq", "ne", "lt", "le", "gt", "ge", "html", "js", "urlquery", "call"} {
		m[name] = true // parse only checks that the name maps to something
	}
	return m
}()

func pathExists(m map[string]interface{}, keys []string) bool {
	var cur interface{} = m
	for _, k := range keys {
		mm, ok := cur.(map[string]interface{})
		if !ok {
			return false
		}
		cur, ok = mm[k]
		if !ok {
			return false
		}
	}
	return true
}

func walkNode(n parse.Node, visit func([]string)) {
	if n == nil {
		return
	}
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walkNode(c, visit)
		}
	case *parse.ActionNode:
		walkNode(x.Pipe, visit)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, c := range x.Cmds {
			walkNode(c, visit)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			walkNode(a, visit)
		}
	case *parse.FieldNode:
		visit(x.Ident)
	case *parse.VariableNode:
		if len(x.Ident) > 1 && x.Ident[0] == "$" {
			visit(x.Ident[1:])
		}
	case *parse.ChainNode:
		walkNode(x.Node, visit)
	case *parse.IfNode:
		walkNode(x.Pipe, visit)
		walkNode(x.List, visit)
		walkNode(x.ElseList, visit)
	case *parse.RangeNode:
		walkNode(x.Pipe, visit)
		walkNode(x.List, visit)
		walkNode(x.ElseList, visit)
	case *parse.WithNode:
		walkNode(x.Pipe, visit)
		walkNode(x.List, visit)
		walkNode(x.ElseList, visit)
	case *parse.TemplateNode:
		walkNode(x.Pipe, visit)
	}
}
