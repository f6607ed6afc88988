"""The manual pages and infoadm's bash completion as a user meets them.

Every page renders without a single groff warning (groff -ww, and man -l when
man-db is installed). infosrv(8) documents exactly the options the daemon
parses, the signals it waits for, the environment it reads and its release;
infoadm(1) documents every global option, every exit status and the
environment infoadm reads. The completion script, sourced in a plain bash,
completes the real infoadm's command words and options, metabase keys, the
properties a key may hold and their values. (That the committed generated
files are current is tests/unit/test_manuals.c's job.)"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, infosrv_path, run_cli, sanitizer_env

PAGES = ["man/infosrv.8", "man/infoadm.1", "man/infosrv-properties.5"]
COMPLETION = os.path.join(REPO, "contrib", "bash-completion", "infoadm")


def read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def section(page, name):
    """The roff source of section NAME (.SH NAME up to the next .SH)."""
    m = re.search(r"^\.SH " + re.escape(name) + r"\n(.*?)(?=^\.SH |\Z)", page, re.M | re.S)
    assert m, f"no section {name}"
    return m.group(1)


def tags(roff):
    """The tag lines of the .TP paragraphs of ROFF."""
    return re.findall(r"^\.TP[^\n]*\n([^\n]*)\n", roff, re.M)


def options_in(text):
    """The options a stretch of roff names: \\-\\-state\\-dir -> --state-dir, \\-h -> -h."""
    text = text.replace("\\%", "").replace("\\-", "-")
    return set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[a-zA-Z])\b", text))


# -- rendering ---------------------------------------------------------------

@pytest.mark.parametrize("device", ["utf8", "ps"])
@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_warnings(page, device):
    groff = shutil.which("groff")
    assert groff, "groff is not installed (make test installs Debian's groff)"
    p = subprocess.run([groff, "-ww", "-man", "-T" + device, "-rLL=80n", "-z",
                        os.path.join(REPO, page)], capture_output=True, text=True, timeout=60)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", ""), f"groff on {page}:\n{p.stderr}"


@pytest.mark.parametrize("page", PAGES)
def test_page_reads_with_man(page, tmp_path):
    man = shutil.which("man")
    if man is None:
        pytest.skip("man-db is not installed")
    env = dict(os.environ, MANWIDTH="80", MAN_KEEP_FORMATTING="0", HOME=str(tmp_path))
    p = subprocess.run([man, "--warnings=w", "-l", os.path.join(REPO, page)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and p.stderr == "", f"man -l {page}:\n{p.stderr}"
    title = os.path.basename(page).rsplit(".", 1)[0].upper()
    assert p.stdout.startswith(title + "("), p.stdout[:200]
    assert "@COMMANDS@" not in p.stdout and "@VERSION@" not in p.stdout


# -- infosrv(8) --------------------------------------------------------------

def daemon_sources():
    return "".join(read(os.path.join("src/daemon", f)) for f in sorted(os.listdir(
        os.path.join(REPO, "src/daemon"))) if f.endswith(".c"))


def test_infosrv_page_documents_exactly_the_options():
    main = read("src/daemon/main.c")
    parsed = set(re.findall(r'strcmp\(a, "(-[-a-z]*)"\)', main))
    assert {"--state-dir", "--user", "--help", "-h"} <= parsed, "parse_args changed shape"
    p = run_cli(["--help"])
    assert p.returncode == 0
    helped = set(re.findall(r"^\s+(--[a-z-]+)", p.stdout.decode(), re.M))
    documented = set()
    for tag in tags(section(read("man/infosrv.8"), "OPTIONS")):
        documented |= options_in(tag)
    assert parsed | helped == documented, (
        f"parsed or in --help but not documented: {sorted((parsed | helped) - documented)}; "
        f"documented but not parsed: {sorted(documented - (parsed | helped))}")


def test_infosrv_page_is_this_release():
    version = read("VERSION").strip()
    th = re.search(r"^\.TH .*$", read("man/infosrv.8"), re.M).group(0)
    assert f'"infosrv {version}"' in th, f"{th!r}: set the release to {version}"
    p = run_cli(["--version"])
    assert p.stdout.decode().strip() == f"infosrv {version}"


def test_infosrv_page_documents_signals_environment_and_files():
    page = read("man/infosrv.8")
    src = daemon_sources()
    waited = set(re.findall(r"sigaddset\(&set, (SIG[A-Z0-9]+)\)", src))
    assert {"SIGTERM", "SIGHUP", "SIGUSR2"} <= waited
    signals = " ".join(tags(section(page, "SIGNALS")))
    for sig in waited:
        assert sig in signals, f"{sig} is not under SIGNALS"
    read_env = set(re.findall(r'getenv\("([A-Z_]+)"\)', src + read("src/core/net.c")))
    assert "INFOSRV_USER" in read_env
    environment = " ".join(tags(section(page, "ENVIRONMENT"))).replace("\\%", "")
    for name in read_env:
        assert name in environment, f"{name} is not under ENVIRONMENT"
    files = " ".join(tags(section(page, "FILES"))).replace("\\%", "")
    for f in ("/metabase.db", "/admin.sock", "/admin.token", "/admin.crt", "/admin.key",
              "/listeners.json", "/stats.json", "/sessions.json", "/error.log", "/tls/",
              "/tls/acme/", "/backups/"):
        assert f in files, f"{f} is not under FILES"
    assert "SEE ALSO" in page and "infoadm (1)" in section(page, "SEE ALSO")


# -- infoadm(1) --------------------------------------------------------------

def test_infoadm_page_documents_every_global_option():
    args = read("src/cli/args.c")
    spec = re.search(r'#define GLOBAL_OPTS "([^"]+)"', args).group(1)
    wanted = {"--" + o.rstrip("=") for o in spec.split(",")}
    wanted |= set(re.findall(r'\{"(-[a-zA-Z])", "[a-z-]+"\}', args))
    assert {"--server", "--pin", "-s", "-V"} <= wanted, "args.c changed shape"
    documented = set()
    for tag in tags(section(read("man/infoadm.1"), "OPTIONS")):
        documented |= options_in(tag)
    assert wanted <= documented, f"not documented: {sorted(wanted - documented)}"


def test_infoadm_page_documents_every_exit_status_and_variable():
    page = read("man/infoadm.1")
    codes = set(re.findall(r"CLI_EXIT_[A-Z]+ = (\d+)", read("src/cli/err.h")))
    assert {"0", "1", "2", "3", "4"} <= codes
    listed = {t.replace(".B ", "").strip() for t in tags(section(page, "EXIT STATUS"))}
    assert codes == listed, f"exit statuses: code {sorted(codes)}, page {sorted(listed)}"
    cli = "".join(read(os.path.join("src/cli", f)) for f in os.listdir(
        os.path.join(REPO, "src/cli")) if f.endswith(".c"))
    environment = " ".join(tags(section(page, "ENVIRONMENT"))).replace("\\%", "")
    for name in set(re.findall(r'getenv\("([A-Z_]+)"\)', cli)):
        assert name in environment, f"{name} is not under ENVIRONMENT"
    commands = section(page, "COMMANDS")
    assert "\\fB\\%cert renew\\fR" in commands and "Needs the capability" in commands


# -- bash completion ---------------------------------------------------------

def complete(*words, wordbreaks=None, cwd=None):
    """What _infoadm offers for COMP_WORDS=WORDS (the cursor at the end of the last)."""
    script = ('source "$1" || exit 9; shift; '
              + (f"COMP_WORDBREAKS='{wordbreaks}'; " if wordbreaks is not None else "")
              + 'COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              'COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _infoadm || exit 8; '
              'printf "%s\\n" "${COMPREPLY[@]}"')
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c", script, "bash", COMPLETION]
                       + list(words), capture_output=True, text=True, timeout=30, cwd=cwd)
    assert p.returncode == 0 and p.stderr == "", f"{words}: rc {p.returncode}\n{p.stderr}"
    return [w for w in p.stdout.split("\n") if w]


def test_completion_script_loads_and_registers():
    p = subprocess.run(["bash", "-n", COMPLETION], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                        'source "$1" && complete -p infoadm', "bash", COMPLETION],
                       capture_output=True, text=True)
    assert p.stdout.strip() == "complete -F _infoadm infoadm", p.stdout + p.stderr


def test_completion_of_command_words():
    assert complete("infoadm", "ce") == ["cert"]
    assert complete("infoadm", "cert", "") == ["list", "renew"]
    assert complete("infoadm", "site", "") == ["add", "remove", "list"]
    assert complete("infoadm", "stats", "") == ["clear"]
    assert complete("infoadm", "vd", "r") == ["remove"], "earlier words may be prefixes"
    assert complete("infoadm", "help", "vdir", "") == ["add", "remove", "list"]
    assert complete("infoadm", "st", "") == [], "st is ambiguous"
    assert complete("infoadm", "frobnicate", "") == []


def infoadm_help(infoadm_bin):
    p = subprocess.run([infoadm_bin, "--help"], capture_output=True, text=True,
                       env=sanitizer_env(), timeout=30)
    assert p.returncode == 0, p.stderr
    cmds = []
    for line in p.stdout.splitlines():
        m = re.match(r"^  ([a-z][a-z-]*(?: [a-z][a-z-]*)*)(?: (.*))?$", line)
        if m:
            cmds.append((m.group(1).split(" "), set(re.findall(r"--[a-z-]+", m.group(2) or ""))))
    assert len(cmds) > 30, p.stdout
    return cmds


def test_completion_knows_every_command_and_option_of_infoadm(infoadm_bin):
    cmds = infoadm_help(infoadm_bin)
    assert set(complete("infoadm", "")) == {w[0] for w, _ in cmds}
    for words, opts in cmds:
        if len(words) > 1:
            assert words[1] in complete("infoadm", *words[:-1], ""), words
        offered = set(complete("infoadm", *words, "--"))
        assert opts <= offered, f"{' '.join(words)}: {sorted(opts - offered)} not offered"
        assert {"--json", "--server"} <= offered, "global options follow a command too"
    assert "--comment" not in complete("infoadm", "cert", "renew", "--")


def test_completion_of_keys_properties_and_values():
    assert complete("infoadm", "set", "/g") == ["/gopher", "/gopher/sites/"]
    assert complete("infoadm", "set", "/www/sites/default", "tls_") == [
        "tls_certificate_file=", "tls_key_file=", "tls_protocols=", "tls_acme="]
    # only what the key may hold: tls_* belong on sites, gopher_* on the gopher service
    assert complete("infoadm", "set", "/www", "tls_") == []
    assert complete("infoadm", "set", "/www", "max_c") == ["max_connections="]
    assert complete("infoadm", "set", "/www/sites/x", "gopher_l") == []
    assert complete("infoadm", "set", "gopher/sites/x", "gopher_l") == [
        "gopher_location=", "gopher_language="], "a key without its leading /"
    assert complete("infoadm", "unset", "/", "cache_") == ["cache_size", "cache_revalidate"]
    assert complete("infoadm", "set", "/ftp/users/alice", "ena") == ["enabled="]
    # readline splits tls_acme=o at "=": the words come back, and so does only the value
    assert complete("infoadm", "set", "/www/sites/default", "tls_acme", "=") == ["off", "on"]
    assert complete("infoadm", "set", "/www/sites/default", "require_tls", "=", "t") == ["true"]
    assert complete("infoadm", "set", "/www/sites/default", "tls_acme=o",
                    wordbreaks=" ") == ["tls_acme=off", "tls_acme=on"]


def test_completion_of_option_values(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "site.pem").write_text("x")
    assert complete("infoadm", "stats", "--service", "") == ["www", "ftp", "gopher"]
    assert complete("infoadm", "stats", "--service=g", wordbreaks=" ") == ["--service=gopher"]
    assert complete("infoadm", "account", "add", "ops", "--role", "") == [
        "reader", "operator", "admin"]
    assert complete("infoadm", "-s", "unix", ":", "/tmp/a.sock", "--json", "start", "") == [
        "www", "ftp", "gopher"], "the value of -s, split at ':', is skipped"
    assert sorted(complete("infoadm", "site", "add", "x", "--certificate", "",
                           cwd=tmp_path)) == ["site.pem", "srv"]
    assert complete("infoadm", "vdir", "add", "blog", "/docs", "", cwd=tmp_path) == ["srv"]
    assert complete("infoadm", "site", "add", "x", "--host", "") == []
