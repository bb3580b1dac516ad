// Command crd-check decodes the prometheus-operator objects (ServiceMonitor, PrometheusRule,
// AlertmanagerConfig) of a
// rendered multi-document manifest into the operator's own Go types with unknown fields rejected,
// the check kubeconform -strict does for built-in kinds. Other kinds are ignored (kubeconform
// validates them). Field values are checked against the CRD schemas by validate-crds.mjs.
//
//	helm template ... | crd-check
package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

func main() {
	checked, err := run(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "crd-check:", err)
		os.Exit(1)
	}
	fmt.Printf("crd-check: %d prometheus-operator object(s) decoded strictly\n", checked)
}

func run(in io.Reader) (int, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(in))
	checked := 0
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return checked, nil
		}
		if err != nil {
			return checked, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var meta typeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return checked, err
		}
		var target any
		switch {
		case meta.APIVersion == "monitoring.coreos.com/v1" && meta.Kind == "ServiceMonitor":
			target = &monitoringv1.ServiceMonitor{}
		case meta.APIVersion == "monitoring.coreos.com/v1" && meta.Kind == "PrometheusRule":
			target = &monitoringv1.PrometheusRule{}
		case meta.APIVersion == "monitoring.coreos.com/v1alpha1" && meta.Kind == "AlertmanagerConfig":
			target = &monitoringv1alpha1.AlertmanagerConfig{}
		default:
			continue
		}
		if err := decodeStrict(doc, target); err != nil {
			return checked, fmt.Errorf("%s %s: %w", meta.Kind, meta.Metadata.Name, err)
		}
		if config, ok := target.(*monitoringv1alpha1.AlertmanagerConfig); ok && config.Spec.Route != nil {
			if err := checkChildRoutes(config.Spec.Route, "spec.route"); err != nil {
				return checked, fmt.Errorf("%s %s: %w", meta.Kind, meta.Metadata.Name, err)
			}
		}
		checked++
	}
}

// decodeStrict decodes a YAML document the way the API server reads JSON: field names are
// case-sensitive (encoding/json would take "groupby" for "groupBy"), and unknown or duplicate
// fields are errors.
func decodeStrict(doc []byte, target any) error {
	data, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(data, target, sigsjson.DisallowUnknownFields)
	if err != nil {
		return err
	}
	return errors.Join(strict...)
}

// checkChildRoutes decodes an AlertmanagerConfig route's child routes, which the CRD keeps as
// unvalidated JSON (the operator decodes them when it reconciles), strictly into Route.
func checkChildRoutes(route *monitoringv1alpha1.Route, path string) error {
	for i, raw := range route.Routes {
		var child monitoringv1alpha1.Route
		where := fmt.Sprintf("%s.routes[%d]", path, i)
		if err := decodeStrict(raw.Raw, &child); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if err := checkChildRoutes(&child, where); err != nil {
			return err
		}
	}
	return nil
}
