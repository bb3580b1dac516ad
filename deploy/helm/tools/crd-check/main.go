// Command crd-check decodes the prometheus-operator objects (ServiceMonitor, PrometheusRule) of a
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
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
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
		default:
			continue
		}
		if err := yaml.UnmarshalStrict(doc, target); err != nil {
			return checked, fmt.Errorf("%s %s: %w", meta.Kind, meta.Metadata.Name, err)
		}
		checked++
	}
}
