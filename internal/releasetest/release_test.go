// Package releasetest proves that the repository's modules can be fetched
// and built by a consumer as they would be after a release: each published
// module is zipped from the checkout into a file-based module proxy, and a
// fresh module outside the workspace gets and builds them from it.
//
// It is a module of its own because it needs golang.org/x/mod, which no
// published module may depend on.
package releasetest

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

const rootPath = "github.com/shipevents/shipevents"

// repoModule is one go.mod of the repository.
type repoModule struct {
	dir  string // absolute
	file *modfile.File
}

func (m repoModule) path() string { return m.file.Module.Mod.Path }

// published reports whether consumers fetch the module: examples and
// internal test modules are not released.
func (m repoModule) published() bool {
	rel := strings.TrimPrefix(m.path(), rootPath)
	return !strings.HasPrefix(rel, "/examples/") && !strings.HasPrefix(rel, "/internal/")
}

// repoRoot is the checkout's top directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.work")); err != nil {
		t.Fatalf("%s is not the repository root: %v", dir, err)
	}
	return dir
}

// repoModules reads every go.mod of the repository (skipping testdata and
// hidden directories).
func repoModules(t *testing.T, root string) []repoModule {
	t.Helper()
	var mods []repoModule
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "go.mod" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := modfile.Parse(path, data, nil)
		if err != nil {
			return err
		}
		mods = append(mods, repoModule{dir: filepath.Dir(path), file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(mods, func(a, b repoModule) int { return strings.Compare(a.path(), b.path()) })
	return mods
}

// TestModulesRequireReleasedVersions checks the rules that make the modules
// fetchable: no replace directives in any go.mod (a consumer's go command
// ignores them; go.work joins the modules for local development), and
// every module of the repository required at one release version, never a
// pseudo-version of a commit that was not published.
func TestModulesRequireReleasedVersions(t *testing.T) {
	root := repoRoot(t)
	mods := repoModules(t, root)
	if len(mods) < 2 {
		t.Fatalf("found %d modules, want the root and at least pgstore", len(mods))
	}
	version := releaseVersion(t, mods)
	for _, m := range mods {
		for _, r := range m.file.Replace {
			t.Errorf("%s: replace %s => %s: consumers ignore replace directives; go.work joins the modules locally", m.path(), r.Old.Path, r.New.Path)
		}
		for _, r := range m.file.Require {
			if !strings.HasPrefix(r.Mod.Path, rootPath) {
				continue
			}
			if r.Mod.Version != version {
				t.Errorf("%s requires %s %s; every module of the repository is released together at %s", m.path(), r.Mod.Path, r.Mod.Version, version)
			}
		}
	}
	// go.work points the release version of each module at the checkout
	// until it is tagged; a replace of another version points nowhere.
	work, err := os.ReadFile(filepath.Join(root, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	wf, err := modfile.ParseWork("go.work", work, nil)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, u := range wf.Use {
		used[filepath.Clean(filepath.Join(root, filepath.FromSlash(u.Path)))] = true
	}
	for _, m := range mods {
		if !used[m.dir] {
			t.Errorf("go.work does not use %s: the README's test command would not run its tests", m.dir)
		}
	}
	for _, r := range wf.Replace {
		if strings.HasPrefix(r.Old.Path, rootPath) && r.Old.Version != version {
			t.Errorf("go.work replaces %s %s; the modules require %s", r.Old.Path, r.Old.Version, version)
		}
	}
	if t.Failed() {
		return
	}
	// The version is the one the changelog is about to release or has
	// released: a require of a version the changelog does not know is a
	// release step forgotten.
	changelog, err := os.ReadFile(filepath.Join(root, "CHANGELOG.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(changelog, []byte("## "+version)) {
		t.Errorf("CHANGELOG.md has no section for %s, the version the modules require", version)
	}
}

// releaseVersion is the version at which the modules require the root
// module.
func releaseVersion(t *testing.T, mods []repoModule) string {
	t.Helper()
	for _, m := range mods {
		for _, r := range m.file.Require {
			if r.Mod.Path == rootPath {
				if module.IsPseudoVersion(r.Mod.Version) {
					t.Fatalf("%s requires %s at the pseudo-version %s; require the release version", m.path(), rootPath, r.Mod.Version)
				}
				return r.Mod.Version
			}
		}
	}
	t.Fatal("no module requires the root module")
	return ""
}

// TestConsumerGetsModulesFromProxy zips every published module from the
// checkout at the release version into a file-based module proxy, then, in
// a fresh module outside the workspace, runs go get for each and builds a
// program that imports it. Third-party modules come from the local module
// cache (which the workspace's own build filled), so no network is used.
func TestConsumerGetsModulesFromProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a consumer module with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH")
	}
	root := repoRoot(t)
	mods := repoModules(t, root)
	version := releaseVersion(t, mods)

	proxy := t.TempDir()
	var published []repoModule
	for _, m := range mods {
		if !m.published() {
			continue
		}
		published = append(published, m)
		writeProxyModule(t, proxy, m, version)
	}

	cache := goEnv(t, goBin, "GOMODCACHE")
	upstream := goEnv(t, goBin, "GOPROXY") // for what the local cache lacks
	env := append(os.Environ(),
		"GOWORK=off",
		"GOFLAGS=-mod=mod -modcacherw",
		"GOPROXY=file://"+filepath.ToSlash(proxy)+",file://"+filepath.ToSlash(filepath.Join(cache, "cache", "download"))+","+upstream,
		"GOSUMDB=off", // the proxy serves zips made just now; nothing to check them against
		"GOMODCACHE="+t.TempDir(),
		"GOTOOLCHAIN=local",
	)
	for _, m := range published {
		name := strings.TrimPrefix(strings.TrimPrefix(m.path(), rootPath), "/")
		if name == "" {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			consumer := t.TempDir()
			run := func(args ...string) string {
				t.Helper()
				cmd := exec.Command(goBin, args...)
				cmd.Dir = consumer
				cmd.Env = env
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				}
				return string(out)
			}
			pkg, command := publicPackage(t, m)
			if command {
				// A command is installed, not imported: go install
				// path@version, as its README says.
				gobin := t.TempDir()
				cmd := exec.Command(goBin, "install", pkg+"@"+version)
				cmd.Dir = consumer
				cmd.Env = append(slices.Clone(env), "GOBIN="+gobin, "GOFLAGS=-modcacherw")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("go install %s@%s: %v\n%s", pkg, version, err, out)
				}
				bin := filepath.Join(gobin, path.Base(pkg))
				if got := run("version", "-m", bin); !strings.Contains(got, "\tmod\t"+m.path()+"\t"+version) {
					t.Errorf("go version -m %s:\n%s\nwant the module %s at %s", bin, got, m.path(), version)
				}
				return
			}
			run("mod", "init", "example.com/consumer")
			run("get", m.path()+"@"+version)
			prog := "package main\n\nimport _ " + strconv.Quote(pkg) + "\n\nfunc main() {}\n"
			if err := os.WriteFile(filepath.Join(consumer, "main.go"), []byte(prog), 0o644); err != nil {
				t.Fatal(err)
			}
			run("mod", "tidy")
			run("build", "./...")

			// The consumer builds the module at the release version, and,
			// for the root, nothing but the root's own runtime
			// dependencies.
			if got := strings.TrimSpace(run("list", "-m", m.path())); got != m.path()+" "+version {
				t.Errorf("go list -m %s = %q, want the release version %s", m.path(), got, version)
			}
			if m.path() == rootPath {
				deps := run("list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".")
				for _, d := range strings.Fields(deps) {
					if d == "example.com/consumer" || strings.HasPrefix(d, rootPath) {
						continue
					}
					if !strings.HasPrefix(d, "github.com/google/uuid") && !strings.HasPrefix(d, "github.com/cenkalti/backoff/v4") {
						t.Errorf("importing the root package builds %s; the root may depend only on uuid and backoff", d)
					}
				}
			}
		})
	}
}

// writeProxyModule writes the .info, .mod and .zip files of m at version
// into a file-based proxy directory, and adds the version to its list.
func writeProxyModule(t *testing.T, proxy string, m repoModule, version string) {
	t.Helper()
	mv := module.Version{Path: m.path(), Version: version}
	escaped, err := module.EscapePath(mv.Path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(proxy, filepath.FromSlash(escaped), "@v")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var zbuf bytes.Buffer
	if err := zip.CreateFromDir(&zbuf, mv, m.dir); err != nil {
		t.Fatalf("zipping %s: %v", mv.Path, err)
	}
	gomod, err := os.ReadFile(filepath.Join(m.dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	info, err := json.Marshal(map[string]string{"Version": version, "Time": "2026-12-04T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		version + ".zip":  zbuf.Bytes(),
		version + ".mod":  gomod,
		version + ".info": info,
		"list":            []byte(version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// publicPackage names a package of m a consumer imports: the module's own
// package when it has Go files at its top, else its first package. command
// reports that the package is a program (package main), which consumers
// install instead.
func publicPackage(t *testing.T, m repoModule) (pkg string, command bool) {
	t.Helper()
	var first string
	err := filepath.WalkDir(m.dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != m.dir && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".") || d.Name() == "internal") {
				return filepath.SkipDir
			}
			if path != m.dir {
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // a nested module
				}
			}
			return nil
		}
		if first == "" && strings.HasSuffix(d.Name(), ".go") && !strings.HasSuffix(d.Name(), "_test.go") {
			rel, err := filepath.Rel(m.dir, filepath.Dir(path))
			if err != nil {
				return err
			}
			first = m.path()
			if rel != "." {
				first += "/" + filepath.ToSlash(rel)
			}
			f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.PackageClauseOnly)
			if err != nil {
				return err
			}
			command = f.Name.Name == "main"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first == "" {
		t.Fatalf("module %s has no package", m.path())
	}
	return first, command
}

func goEnv(t *testing.T, goBin, name string) string {
	t.Helper()
	out, err := exec.Command(goBin, "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}
