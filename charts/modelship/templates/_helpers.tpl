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
