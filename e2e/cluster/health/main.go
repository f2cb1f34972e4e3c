// Command modelship-health prints the health that Argo CD and kstatus give Kubernetes objects,
// computed by their own code, so modelship's health table is measured, not claimed.
//
//	modelship-health --argocd-cm deploy/argocd/argocd-cm.yaml [FILE...]   (no FILE or "-": stdin)
//
// FILEs hold YAML or JSON objects (several documents, or a `kind: List`). For each object it
// prints one JSON line: its kind and name, Argo CD's health (status, message) and kstatus's
// (status, message). `--version` prints the module versions it was built from.
//
// Argo CD: the argocd-cm ConfigMap is read as `argocd admin settings resource-overrides health`
// reads one (cmd/argocd/commands/admin/settings.go: a fake clientset holding the ConfigMap,
// Argo CD's SettingsManager, GetResourceOverrides), and health comes from gitops-engine's
// GetResourceHealth with util/lua's overrides, the call the application controller makes.
// kstatus: sigs.k8s.io/cli-utils status.Compute, which Flux's kustomize-controller uses.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"github.com/argoproj/argo-cd/gitops-engine/v3/pkg/health"
	"github.com/argoproj/argo-cd/v3/util/lua"
	"github.com/argoproj/argo-cd/v3/util/settings"
	log "github.com/sirupsen/logrus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/yaml"
)

type verdict struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

type report struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Name       string   `json:"name"`
	ArgoCD     *verdict `json:"argocd"` // null: argocd-cm has no health check for the kind
	Kstatus    verdict  `json:"kstatus"`
}

func main() {
	cmPath := flag.String("argocd-cm", "", "the argocd-cm ConfigMap (YAML) holding the health checks")
	version := flag.Bool("version", false, "print the Argo CD and cli-utils versions built in")
	flag.Parse()
	if *version {
		printVersions()
		return
	}
	if *cmPath == "" {
		fail(errors.New("--argocd-cm is required"))
	}
	log.SetLevel(log.WarnLevel) // the settings manager logs its informers at info
	overrides, err := resourceOverrides(*cmPath)
	if err != nil {
		fail(fmt.Errorf("reading %s as Argo CD does: %w", *cmPath, err))
	}
	inputs := flag.Args()
	if len(inputs) == 0 {
		inputs = []string{"-"}
	}
	out := json.NewEncoder(os.Stdout)
	for _, input := range inputs {
		objects, err := readObjects(input)
		if err != nil {
			fail(fmt.Errorf("%s: %w", input, err))
		}
		for _, obj := range objects {
			r, err := assess(obj, overrides)
			if err != nil {
				fail(fmt.Errorf("%s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err))
			}
			if err := out.Encode(r); err != nil {
				fail(err)
			}
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "modelship-health:", err)
	os.Exit(1)
}

// resourceOverrides parses argocd-cm with Argo CD's SettingsManager, as its admin CLI does.
func resourceOverrides(path string) (lua.ResourceHealthOverrides, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cm corev1.ConfigMap
	if err := yaml.Unmarshal(data, &cm); err != nil {
		return nil, err
	}
	if cm.Name != "argocd-cm" {
		return nil, fmt.Errorf("the ConfigMap is named %q: Argo CD reads only argocd-cm", cm.Name)
	}
	// What setSettingsMeta does: the namespace the fake clientset serves, and the label
	// Argo CD's informer selects ConfigMaps by.
	cm.Namespace = "default"
	if cm.Labels == nil {
		cm.Labels = map[string]string{}
	}
	cm.Labels["app.kubernetes.io/part-of"] = "argocd"
	secret := &corev1.Secret{}
	secret.Name, secret.Namespace = "argocd-secret", "default"
	secret.Labels = map[string]string{"app.kubernetes.io/part-of": "argocd"}
	secret.Data = map[string][]byte{"server.secretkey": []byte("modelship-health")}
	manager := settings.NewSettingsManager(context.Background(), fake.NewClientset(secret, &cm), "default")
	if err := manager.ResyncInformers(); err != nil {
		return nil, err
	}
	overrides, err := manager.GetResourceOverrides()
	if err != nil {
		return nil, err
	}
	return lua.ResourceHealthOverrides(overrides), nil
}

func assess(obj *unstructured.Unstructured, overrides lua.ResourceHealthOverrides) (report, error) {
	r := report{APIVersion: obj.GetAPIVersion(), Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName()}
	argo, err := health.GetResourceHealth(obj, overrides)
	if err != nil {
		return r, fmt.Errorf("Argo CD: %w", err)
	}
	if argo != nil {
		r.ArgoCD = &verdict{Status: string(argo.Status), Message: argo.Message}
	}
	computed, err := status.Compute(obj)
	if err != nil {
		return r, fmt.Errorf("kstatus: %w", err)
	}
	r.Kstatus = verdict{Status: computed.Status.String(), Message: computed.Message}
	return r, nil
}

// readObjects reads every object of a YAML or JSON stream; a List yields its items.
func readObjects(input string) ([]*unstructured.Unstructured, error) {
	var source io.Reader = os.Stdin
	if input != "-" {
		f, err := os.Open(input)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		source = f
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(source), 4096)
	var objects []*unstructured.Unstructured
	for {
		var doc json.RawMessage
		if err := decoder.Decode(&doc); errors.Is(err, io.EOF) {
			return objects, nil
		} else if err != nil {
			return nil, err
		}
		if len(doc) == 0 || string(doc) == "null" {
			continue // an empty document
		}
		// The API machinery's own decoding: integers stay int64, as kstatus expects.
		decoded, err := runtime.Decode(unstructured.UnstructuredJSONScheme, doc)
		if err != nil {
			return nil, err
		}
		switch found := decoded.(type) {
		case *unstructured.UnstructuredList:
			for i := range found.Items {
				objects = append(objects, &found.Items[i])
			}
		case *unstructured.Unstructured:
			objects = append(objects, found)
		default:
			return nil, fmt.Errorf("not an object: %T", decoded)
		}
	}
}

func printVersions() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fail(errors.New("no build information"))
	}
	wanted := map[string]bool{
		"github.com/argoproj/argo-cd/v3":               true,
		"github.com/argoproj/argo-cd/gitops-engine/v3": true,
		"github.com/yuin/gopher-lua":                   true,
		"sigs.k8s.io/cli-utils":                        true,
	}
	versions := map[string]string{"go": info.GoVersion}
	for _, dep := range info.Deps {
		if wanted[dep.Path] {
			versions[dep.Path] = dep.Version
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(versions)
}
