// Validates prometheus-operator objects against the CRDs' OpenAPI schemas (types, enums,
// patterns, required fields), using the validators that the npm package
// @kubernetes-models/prometheus-operator generates from those CRDs. Unknown fields are
// crd-check's job (the CRD schemas allow them; the API server prunes them).
//
//   node validate-crds.mjs MODELS_DIR < objects.json
//
// MODELS_DIR: the npm prefix the package was installed into (scripts/install-deploy-tools.sh).
// stdin: a JSON array of Kubernetes objects; kinds other than ServiceMonitor, PrometheusRule and
// AlertmanagerConfig are ignored. Exit status 1 if any object is invalid.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modelsDir = process.argv[2];
if (!modelsDir) {
  console.error("usage: node validate-crds.mjs MODELS_DIR < objects.json");
  process.exit(2);
}
const packageDir = join(modelsDir, "node_modules", "@kubernetes-models", "prometheus-operator");
const load = async (version, kind) =>
  (await import(pathToFileURL(join(packageDir, "monitoring.coreos.com", version, `${kind}.js`)).href))[kind];
const models = {
  "monitoring.coreos.com/v1/ServiceMonitor": await load("v1", "ServiceMonitor"),
  "monitoring.coreos.com/v1/PrometheusRule": await load("v1", "PrometheusRule"),
  "monitoring.coreos.com/v1alpha1/AlertmanagerConfig": await load("v1alpha1", "AlertmanagerConfig"),
};

// An AlertmanagerConfig's child routes are unvalidated JSON in the CRD (the operator decodes them
// when it reconciles): check each against the Route schema the package generates.
const { validate: validateRoute } = await import(
  pathToFileURL(join(packageDir, "_schemas",
    "ComGithubPrometheusOperatorPrometheusOperatorPkgApisMonitoringV1alpha1Route.js")).href);
const childRouteErrors = (route, path) =>
  (route?.routes ?? []).flatMap((child, i) => {
    const where = `${path}.routes[${i}]`;
    const own = validateRoute(child) ? [] :
      validateRoute.errors.map((e) => `${where}${e.instancePath}: ${e.keyword} ${JSON.stringify(e.params)}`);
    return [...own, ...childRouteErrors(child, where)];
  });

const objects = JSON.parse(readFileSync(0, "utf8"));
let checked = 0;
let failed = 0;
for (const object of objects) {
  const Model = models[`${object.apiVersion}/${object.kind}`];
  if (!Model) continue;
  checked += 1;
  try {
    new Model(object).validate();
    if (object.kind === "AlertmanagerConfig") {
      const errors = childRouteErrors(object.spec?.route, "spec.route");
      if (errors.length) throw new Error(errors.join("; "));
    }
  } catch (error) {
    failed += 1;
    console.error(`${object.kind} ${object.metadata?.name}: ${error.message}`);
  }
}
console.log(`validate-crds: ${checked} object(s) checked, ${failed} invalid`);
process.exit(failed === 0 ? 0 : 1);
