package service

import (
	"maps"
	"slices"
	"testing"
)

func TestNamesAndPathsPerPlatform(t *testing.T) {
	pd := env(map[string]string{"ProgramData": `C:\ProgramData`})
	for _, tc := range []struct {
		goos, target, name, dataDir, envFile, logFile string
	}{
		{"windows", TargetHub, "ExekraHubService", `C:\ProgramData\Exekra`, `C:\ProgramData\Exekra\ExekraHubService.env`, `C:\ProgramData\Exekra\logs\ExekraHubService.log`},
		{"windows", TargetRunner, "ExekraRunner", `C:\ProgramData\ExekraRunner`, `C:\ProgramData\ExekraRunner\ExekraRunner.env`, `C:\ProgramData\ExekraRunner\logs\ExekraRunner.log`},
		{"linux", TargetHub, "exekra", "/var/lib/exekra", "/etc/exekra/exekra.env", ""},
		{"linux", TargetRunner, "exekra-runner", "/var/lib/exekra-runner", "/etc/exekra/exekra-runner.env", ""},
	} {
		name := defaultName(tc.goos, tc.target)
		dir := defaultDataDir(tc.goos, tc.target, name, pd)
		if name != tc.name || dir != tc.dataDir {
			t.Errorf("%s %s: %s in %s, want %s in %s", tc.goos, tc.target, name, dir, tc.name, tc.dataDir)
		}
		if got := envFilePath(tc.goos, name, dir); got != tc.envFile {
			t.Errorf("%s %s: env file %s, want %s", tc.goos, tc.target, got, tc.envFile)
		}
		if got := logFilePath(tc.goos, name, dir); got != tc.logFile {
			t.Errorf("%s %s: log file %s, want %s", tc.goos, tc.target, got, tc.logFile)
		}
	}
	if got := defaultDataDir("windows", TargetHub, "x", env(nil)); got != `C:\ProgramData\Exekra` {
		t.Errorf("without %%ProgramData%%: %s", got)
	}
	if got := joinPath("windows", `E:\Data\`, `\Exekra`); got != `E:\Data\Exekra` {
		t.Errorf("joinPath: %s", got)
	}
}

func TestWithDataDir(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		wantArgs []string
		wantDir  string
	}{
		{nil, []string{"--data-dir", "/d"}, "/d"},
		{[]string{"--addr", ":1"}, []string{"--addr", ":1", "--data-dir", "/d"}, "/d"},
		{[]string{"--data-dir", "/mine"}, []string{"--data-dir", "/mine"}, "/mine"},
		{[]string{"-data-dir=/mine"}, []string{"-data-dir=/mine"}, "/mine"},
		{[]string{"--data-dir=C:\\Exekra Data"}, []string{"--data-dir=C:\\Exekra Data"}, "C:\\Exekra Data"},
		// A flag's value that looks like the flag is no flag.
		{[]string{"--jwt-secret", "x", "---data-dir", "y"}, []string{"--jwt-secret", "x", "---data-dir", "y", "--data-dir", "/d"}, "/d"},
	} {
		args, dir := withDataDir(tc.args, "/d")
		if !slices.Equal(args, tc.wantArgs) || dir != tc.wantDir {
			t.Errorf("withDataDir(%q) = %q, %s; want %q, %s", tc.args, args, dir, tc.wantArgs, tc.wantDir)
		}
	}
}

func TestExtractSecrets(t *testing.T) {
	for _, tc := range []struct {
		target   string
		args     []string
		shell    map[string]string
		wantArgs []string
		wantEnv  map[string]string
	}{
		{TargetRunner, []string{"--url", "u", "--machine-secret", "s", "--allow-shell"}, nil,
			[]string{"--url", "u", "--allow-shell"}, map[string]string{"EXEKRA_MACHINE_SECRET": "s"}},
		{TargetRunner, []string{"--machine-secret=s=x"}, nil, []string{}, map[string]string{"EXEKRA_MACHINE_SECRET": "s=x"}},
		{TargetRunner, []string{"--url", "u"}, map[string]string{"EXEKRA_MACHINE_SECRET": "from-shell"},
			[]string{"--url", "u"}, map[string]string{"EXEKRA_MACHINE_SECRET": "from-shell"}},
		{TargetHub, []string{"--jwt-secret", "j", "--addr", ":1"}, map[string]string{"EXEKRA_JWT_SECRET": "ignored"},
			[]string{"--addr", ":1"}, map[string]string{"EXEKRA_JWT_SECRET": "j"}},
		{TargetHub, []string{"--addr", ":1"}, map[string]string{"EXEKRA_MACHINE_SECRET": "not the hub's"},
			[]string{"--addr", ":1"}, map[string]string{}},
	} {
		args, got := extractSecrets(tc.target, tc.args, env(tc.shell))
		if !slices.Equal(args, tc.wantArgs) || !maps.Equal(got, tc.wantEnv) {
			t.Errorf("%s %q: %q %v; want %q %v", tc.target, tc.args, args, got, tc.wantArgs, tc.wantEnv)
		}
	}
}

func TestEnvFileRoundTrip(t *testing.T) {
	in := map[string]string{"EXEKRA_MACHINE_SECRET": "a=b c", "EXEKRA_URL": "https://hub:4545"}
	text, err := formatEnv(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := parseEnv(text)
	if err != nil || !maps.Equal(in, out) {
		t.Fatalf("round trip: %v, %v", out, err)
	}
	if _, err := formatEnv(map[string]string{"K": "two\nlines"}); err == nil {
		t.Error("a value with a newline was written")
	}
	if out, err := parseEnv("\r\n# c\r\nK=v\r\n"); err != nil || out["K"] != "v" {
		t.Errorf("CRLF file (Notepad): %v, %v", out, err)
	}
	if _, err := parseEnv("just words\n"); err == nil {
		t.Error("a line without = was taken")
	}
}
