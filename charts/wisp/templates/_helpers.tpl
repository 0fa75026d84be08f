{{/* Chart name, truncated to the 63 characters of a DNS label. */}}
{{- define "wisp.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name of the release's objects. */}}
{{- define "wisp.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wisp.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable for the release's lifetime. */}}
{{- define "wisp.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wisp.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Common labels of every object. */}}
{{- define "wisp.labels" -}}
helm.sh/chart: {{ include "wisp.chart" . }}
{{ include "wisp.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wisp
{{- end -}}

{{- define "wisp.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wisp.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wisp.image" -}}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) -}}
{{- end -}}

{{/* Secret of the serving certificate (auto and cert-manager modes: the chart's; files: the user's). */}}
{{- define "wisp.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "files" -}}
{{- required "certificates.files.secretName is required with certificates.mode=files" .Values.certificates.files.secretName -}}
{{- else -}}
{{- printf "%s-tls" (include "wisp.fullname" .) -}}
{{- end -}}
{{- end -}}

{{/*
The label that marks wisp's own objects; the mutating webhook's
objectSelector excludes objects that carry it (wisp never injects itself).
Like any label, a user can set it on their own pods: that only opts the pod
out of injection. The validating webhooks have no objectSelector, so the
label can never switch secret detection off; wisp's own pods are kept away
from them by the release namespace's exclusion in namespaceSelector.
*/}}
{{- define "wisp.selfLabelKey" -}}wisp.dev/webhook{{- end -}}

{{/*
webhook.clientConfig: where the API server calls wisp. Call with
(list $ "/mutate").
*/}}
{{- define "wisp.clientConfig" -}}
{{- $root := index . 0 -}}
{{- $path := index . 1 -}}
{{- if $root.Values.webhook.url -}}
url: {{ printf "%s%s" (trimSuffix "/" $root.Values.webhook.url) $path | quote }}
{{- with $root.Values.webhook.caBundle }}
caBundle: {{ . | quote }}
{{- end }}
{{- else -}}
service:
  name: {{ include "wisp.fullname" $root }}
  namespace: {{ $root.Release.Namespace }}
  path: {{ $path | quote }}
  port: 443
{{- if eq $root.Values.certificates.mode "files" }}
caBundle: {{ required "certificates.files.caBundle is required with certificates.mode=files" $root.Values.certificates.files.caBundle | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* Annotations of both webhook configurations. */}}
{{- define "wisp.webhookAnnotations" -}}
{{- if and (eq .Values.certificates.mode "cert-manager") (not .Values.webhook.url) -}}
annotations:
  cert-manager.io/inject-ca-from: {{ printf "%s/%s-tls" .Release.Namespace (include "wisp.fullname" .) }}
{{- end }}
{{- end -}}

{{/* Fields shared by every webhook of both configurations. */}}
{{- define "wisp.webhookCommon" -}}
admissionReviewVersions: ["v1"]
sideEffects: None
timeoutSeconds: {{ .Values.webhook.timeoutSeconds }}
failurePolicy: {{ .Values.webhook.failurePolicy }}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml (concat (list "kube-system" .Release.Namespace) .Values.webhook.namespaceSelector.excludeNamespaces | uniq) | nindent 8 }}
    {{- with .Values.webhook.namespaceSelector.matchExpressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* The mutating webhook's objectSelector: wisp never injects itself. */}}
{{- define "wisp.objectSelector" -}}
objectSelector:
  matchExpressions:
    - key: {{ include "wisp.selfLabelKey" . }}
      operator: DoesNotExist
{{- end -}}

{{/*
=== CEL matchConditions =======================================================

A request reaches wisp only if wisp has something to do with it:

  opt-in     the pod (or pod template) has the wisp.dev/inject annotation
             (any value: a bad value must reach wisp to be denied), or, with
             migration.vaultAgentAnnotations, vault.hashicorp.com/agent-inject;
  detection  some container, init container or ephemeral container has an
             env var with a literal value or any valueFrom (a fieldRef can
             give it an annotation's value, a configMapKeyRef a plan), an
             envFrom (a Secret, or a ConfigMap whose keys wisp cannot see),
             or a command or args element with "-plan" in it (wisp-fetch's
             --plan flag); or the pod has a downward API file of its
             annotations or labels (a downwardAPI volume, or a projected
             volume's downwardAPI source). CEL cannot run wisp's detection
             rules, so any of these counts; wisp decides what is a secret.

A pod with none of these (no env at all, only a service account token's
projected volume, ...) never reaches the webhook: no latency, no dependency
on wisp's availability.

The object is untyped in webhook matchConditions, so every optional field is
guarded with has(); a misspelt field name would compile and silently never
match, which is why test/chart runs these expressions in a real API server.

"wisp.cel.optIn" and "wisp.cel.hasEnvSecrets" take the CEL path of the
metadata and of the pod spec; "wisp.cel.matchExpression" joins them.
*/}}
{{- define "wisp.cel.optIn" -}}
{{- $m := .meta -}}
{{- $keys := list "wisp.dev/inject" -}}
{{- if .root.Values.migration.vaultAgentAnnotations -}}
{{- $keys = append $keys "vault.hashicorp.com/agent-inject" -}}
{{- end -}}
(has({{ $m }}.annotations) && ({{ range $i, $k := $keys }}{{ if $i }} || {{ end }}'{{ $k }}' in {{ $m }}.annotations{{ end }}))
{{- end -}}

{{- define "wisp.cel.hasEnvSecrets" -}}
{{- $s := .spec -}}
{{- $c := "(has(c.env) && c.env.exists(e, has(e.value) || has(e.valueFrom))) || (has(c.envFrom) && c.envFrom.exists(f, has(f.secretRef) || has(f.configMapRef))) || (has(c.command) && c.command.exists(a, a.contains('-plan'))) || (has(c.args) && c.args.exists(a, a.contains('-plan')))" -}}
{{- $meta := "has(i.fieldRef) && (i.fieldRef.fieldPath.startsWith('metadata.annotations') || i.fieldRef.fieldPath.startsWith('metadata.labels'))" -}}
{{- range $i, $list := list "containers" "initContainers" "ephemeralContainers" }}
{{- if $i }}
|| {{ end -}}
(has({{ $s }}.{{ $list }}) && {{ $s }}.{{ $list }}.exists(c, {{ $c }}))
{{- end }}
|| (has({{ $s }}.volumes) && {{ $s }}.volumes.exists(v, (has(v.downwardAPI) && has(v.downwardAPI.items) && v.downwardAPI.items.exists(i, {{ $meta }})) || (has(v.projected) && has(v.projected.sources) && v.projected.sources.exists(p, has(p.downwardAPI) && has(p.downwardAPI.items) && p.downwardAPI.items.exists(i, {{ $meta }})))))
{{- end -}}

{{/* Call with (dict "root" $ "meta" "object.metadata" "spec" "object.spec"). */}}
{{- define "wisp.cel.matchExpression" -}}
{{ include "wisp.cel.optIn" . }}
|| {{ include "wisp.cel.hasEnvSecrets" . }}
{{- end -}}

{{/*
On UPDATE, only a changed pod spec can bring new secrets: an update that
leaves it alone (labels, scale by apply, finalizers of a pod being deleted)
never reaches wisp. Call with (dict "cur" "object.spec" "old" "oldObject.spec"):
the pod's spec, or a workload's whole pod template (its annotations matter).
*/}}
{{- define "wisp.cel.specChanged" -}}
request.operation != 'UPDATE' || {{ .cur }} != {{ .old }}
{{- end -}}

{{/* The matchConditions of one webhook: the arguments of wisp.cel.matchExpression, plus "cur" and "old" on UPDATE. */}}
{{- define "wisp.matchConditions" -}}
matchConditions:
  - name: opted-in-or-env-secrets
    expression: |
      {{- include "wisp.cel.matchExpression" . | nindent 6 }}
{{- if .old }}
  - name: pod-spec-changed
    expression: {{ include "wisp.cel.specChanged" . | quote }}
{{- end }}
{{- end -}}
