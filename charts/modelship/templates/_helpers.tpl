{{- define "modelship.name" -}}modelship{{- end -}}
{{- define "modelship.fullname" -}}{{ .Release.Name | trunc 40 | trimSuffix "-" }}-modelship{{- end -}}
{{- define "modelship.labels" -}}
app.kubernetes.io/name: modelship
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
{{- define "modelship.selectorLabels" -}}
app.kubernetes.io/name: modelship
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "modelship.clusterWide" -}}{{ if .Values.watchNamespaces }}false{{ else }}true{{ end }}{{- end -}}
{{- /*
modelship needs Kubernetes 1.29 or newer (CEL validation rules of the CRDs, generally
available since 1.29). At install and upgrade .Capabilities.KubeVersion is the cluster's; for
`helm template` it is --kube-version, or Helm's built-in default when that is not given. The
default of Helm 4.0 and of any Helm built from source is v1.20.0, which says nothing about the
target cluster: only that placeholder is let through, so that the chart renders offline.
*/ -}}
{{- define "modelship.kubeVersion" -}}
{{- $version := .Capabilities.KubeVersion.Version -}}
{{- if and (ne $version "v1.20.0") (semverCompare "<1.29.0-0" $version) -}}
{{- fail (printf "modelship needs Kubernetes 1.29 or newer, not %s (with helm template, give the cluster's version as --kube-version)" $version) -}}
{{- end -}}
{{- end -}}
{{- /*
The operator-wide notifications file (--notifications-config): each receiver's URL is the
file its Secret is mounted as, read at every delivery, so a rotated Secret needs no restart.
*/ -}}
{{- define "modelship.notificationsConfig" -}}
receivers:
{{- range .Values.notifications.receivers }}
- name: {{ .name }}
  type: {{ .type | default "webhook" }}
  urlFile: /etc/modelship/notifications/receivers/{{ .name }}/url
  {{- with .events }}
  events: {{ toJson . }}
  {{- end }}
  {{- with .namespaces }}
  namespaces: {{ toJson . }}
  {{- end }}
{{- end }}
timeoutSeconds: {{ .Values.notifications.timeoutSeconds }}
maxAttempts: {{ .Values.notifications.maxAttempts }}
queueSize: {{ .Values.notifications.queueSize }}
{{- end -}}
