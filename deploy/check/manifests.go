package check

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	servingv1 "knative.dev/serving/pkg/apis/serving/v1"
	"sigs.k8s.io/yaml"
)

// Object is one decoded manifest document.
type Object struct {
	File       string // relative to the repository root
	APIVersion string
	Kind       string
	Name       string
	Namespace  string
	Obj        any // *appsv1.Deployment, *corev1.ConfigMap, ...
}

// ID names the object for messages and duplicate checks.
func (o Object) ID() string {
	return fmt.Sprintf("%s/%s %s/%s", o.APIVersion, o.Kind, o.Namespace, o.Name)
}

// newObject returns a pointer to the upstream Go type of apiVersion/kind.
func newObject(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "apps/v1/StatefulSet":
		return &appsv1.StatefulSet{}, nil
	case "autoscaling/v2/HorizontalPodAutoscaler":
		return &autoscalingv2.HorizontalPodAutoscaler{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "batch/v1/CronJob":
		return &batchv1.CronJob{}, nil
	case "batch/v1/Job":
		return &batchv1.Job{}, nil
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	case "serving.knative.dev/v1/Service":
		return &servingv1.Service{}, nil
	}
	return nil, fmt.Errorf("no Go type registered for %s %s", apiVersion, kind)
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// SplitDocs splits a multi-document YAML stream, dropping empty documents.
func SplitDocs(data []byte) [][]byte {
	var out [][]byte
	for _, d := range docSep.Split(string(data), -1) {
		if strings.TrimSpace(stripComments(d)) == "" {
			continue
		}
		out = append(out, []byte(d))
	}
	return out
}

func stripComments(s string) string {
	var b strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if t := strings.TrimSpace(line); t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

// DecodeStrict decodes one document into its upstream type; unknown or
// duplicated fields are errors.
func DecodeStrict(file string, doc []byte) (Object, error) {
	var hdr struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"metadata"`
	}
	if err := yaml.Unmarshal(doc, &hdr); err != nil {
		return Object{}, fmt.Errorf("%s: %w", file, err)
	}
	obj, err := newObject(hdr.APIVersion, hdr.Kind)
	if err != nil {
		return Object{}, fmt.Errorf("%s: %s: %w", file, hdr.Metadata.Name, err)
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return Object{}, fmt.Errorf("%s: %s %s: %w", file, hdr.Kind, hdr.Metadata.Name, err)
	}
	return Object{File: file, APIVersion: hdr.APIVersion, Kind: hdr.Kind,
		Name: hdr.Metadata.Name, Namespace: hdr.Metadata.Namespace, Obj: obj}, nil
}

// DecodeFile decodes every document of a manifest file.
func DecodeFile(root, rel string) ([]Object, error) {
	data, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, doc := range SplitDocs(data) {
		o, err := DecodeStrict(rel, doc)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// DecodeStream decodes a rendered stream (kustomize output).
func DecodeStream(name string, data []byte) ([]Object, error) {
	var out []Object
	for _, doc := range SplitDocs(data) {
		o, err := DecodeStrict(name, bytes.TrimSpace(doc))
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// PodTemplate is a workload's pod template, whatever the workload's kind.
type PodTemplate struct {
	Owner string
	Kind  string
	Spec  *corev1.PodTemplateSpec
	// Claims: volumeClaimTemplates of a StatefulSet (mountable by name).
	Claims []string
}

// PodTemplates returns the pod templates of Deployments, StatefulSets,
// CronJobs and Jobs.
func PodTemplates(objs []Object) []PodTemplate {
	var out []PodTemplate
	for _, o := range objs {
		switch v := o.Obj.(type) {
		case *appsv1.Deployment:
			out = append(out, PodTemplate{Owner: o.ID(), Kind: o.Kind, Spec: &v.Spec.Template})
		case *appsv1.StatefulSet:
			var claims []string
			for _, c := range v.Spec.VolumeClaimTemplates {
				claims = append(claims, c.Name)
			}
			out = append(out, PodTemplate{Owner: o.ID(), Kind: o.Kind, Spec: &v.Spec.Template, Claims: claims})
		case *batchv1.CronJob:
			out = append(out, PodTemplate{Owner: o.ID(), Kind: o.Kind, Spec: &v.Spec.JobTemplate.Spec.Template})
		case *batchv1.Job:
			out = append(out, PodTemplate{Owner: o.ID(), Kind: o.Kind, Spec: &v.Spec.Template})
		}
	}
	return out
}

// SortedKeys returns a map's keys in order.
func SortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
