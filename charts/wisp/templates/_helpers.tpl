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
{{- end -}}

{{/*
=== Namespace classes: which failures may block a namespace ==================

With failurePolicy Fail, the API server refuses every request it sends to
wisp while wisp is down. That is what enforcement needs, and what an opted-in
pod needs (admitted uninjected, it would start without its secrets); but a
namespace whose mode is warn or audit must not lose its pods to a wisp
outage for a check that never refuses anything there. So every webhook is
rendered once per namespace class, each with its own namespaceSelector:

  infix                 namespaces                                 detection fails
  ""                    mode by name (namespaces.modes, mode) is   webhook.failurePolicy
                        enforce, no mode label
  .unenforced           mode by name is warn or audit, no label    Ignore
  .by-label             mode label set, not warn or audit          webhook.failurePolicy
                        (a bad value enforces, as in wisp)
  .unenforced-by-label  mode label warn or audit                   Ignore

Without namespaces.modeLabel only the first two exist, and each only when a
namespace can fall in it: the default install (mode enforce, no modes) has
exactly one class, "". The classes never overlap, and together they cover
every namespace the base selector sends to wisp. In an unenforced class the
mutating webhook is split: opted-in pods keep webhook.failurePolicy
(mutate<infix>.wisp.dev), pods with env values only are Ignore
(detect<infix>.wisp.dev).

"wisp.namespaceClasses" returns {"classes": [{infix, enforce, expressions}]}
as JSON (fromJson it).
*/}}
{{- define "wisp.namespaceClasses" -}}
{{- $p := .Values.policy | default dict -}}
{{- $nsp := $p.namespaces | default dict -}}
{{- $label := $nsp.modeLabel | default "" -}}
{{- $on := list -}}
{{- $off := list -}}
{{- range $name, $m := ($nsp.modes | default dict) -}}
{{- if eq $m "enforce" -}}{{- $on = append $on $name -}}{{- else -}}{{- $off = append $off $name -}}{{- end -}}
{{- end -}}
{{- $nameKey := "kubernetes.io/metadata.name" -}}
{{- $byName := list -}}
{{- if $label -}}{{- $byName = list (dict "key" $label "operator" "DoesNotExist") -}}{{- end -}}
{{- $classes := list -}}
{{- if eq ($p.mode | default "enforce") "enforce" -}}
{{- $e := $byName -}}
{{- if $off -}}{{- $e = append $e (dict "key" $nameKey "operator" "NotIn" "values" (sortAlpha $off)) -}}{{- end -}}
{{- $classes = append $classes (dict "infix" "" "enforce" true "expressions" $e) -}}
{{- if $off -}}
{{- $classes = append $classes (dict "infix" ".unenforced" "enforce" false "expressions" (append $byName (dict "key" $nameKey "operator" "In" "values" (sortAlpha $off)))) -}}
{{- end -}}
{{- else -}}
{{- if $on -}}
{{- $classes = append $classes (dict "infix" "" "enforce" true "expressions" (append $byName (dict "key" $nameKey "operator" "In" "values" (sortAlpha $on)))) -}}
{{- end -}}
{{- $e := $byName -}}
{{- if $on -}}{{- $e = append $e (dict "key" $nameKey "operator" "NotIn" "values" (sortAlpha $on)) -}}{{- end -}}
{{- $classes = append $classes (dict "infix" ".unenforced" "enforce" false "expressions" $e) -}}
{{- end -}}
{{- if $label -}}
{{- $classes = append $classes (dict "infix" ".by-label" "enforce" true "expressions" (list (dict "key" $label "operator" "Exists") (dict "key" $label "operator" "NotIn" "values" (list "audit" "warn")))) -}}
{{- $classes = append $classes (dict "infix" ".unenforced-by-label" "enforce" false "expressions" (list (dict "key" $label "operator" "In" "values" (list "audit" "warn")))) -}}
{{- end -}}
{{- toJson (dict "classes" $classes) -}}
{{- end -}}

{{/*
namespaceSelector of a webhook of namespace class .class: kube-system, the
release namespace and webhook.namespaceSelector's exclusions never, then the
class's own expressions and webhook.namespaceSelector.matchExpressions.
Call with (dict "root" $ "class" $class).
*/}}
{{- define "wisp.namespaceSelector" -}}
{{- $root := .root -}}
namespaceSelector:
  matchExpressions:
    - key: kubernetes.io/metadata.name
      operator: NotIn
      values:
        {{- toYaml (concat (list "kube-system" $root.Release.Namespace) $root.Values.webhook.namespaceSelector.excludeNamespaces | uniq) | nindent 8 }}
    {{- with .class.expressions }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
    {{- with $root.Values.webhook.namespaceSelector.matchExpressions }}
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
{{- $rules := (.root.Values.policy | default dict).rules | default dict }}
{{- if has "secret-volume" ($rules.enabled | default list) }}
|| (has({{ $s }}.volumes) && {{ $s }}.volumes.exists(v, has(v.secret) || (has(v.projected) && has(v.projected.sources) && v.projected.sources.exists(p, has(p.secret)))))
{{- end }}
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

{{/*
The matchConditions of one webhook: the arguments of wisp.cel.matchExpression,
plus "cur" and "old" on UPDATE, and "select": "any" (default: opted in or env
values), "opt-in" (opted in only) or "env-only" (env values, not opted in).
*/}}
{{- define "wisp.matchConditions" -}}
matchConditions:
{{- if eq (.select | default "any") "any" }}
  - name: opted-in-or-env-secrets
    expression: |
      {{- include "wisp.cel.matchExpression" . | nindent 6 }}
{{- else if eq .select "opt-in" }}
  - name: opted-in
    expression: {{ include "wisp.cel.optIn" . | quote }}
{{- else }}
  - name: env-secrets
    expression: |
      {{- include "wisp.cel.hasEnvSecrets" . | nindent 6 }}
  - name: not-opted-in
    expression: {{ printf "!%s" (include "wisp.cel.optIn" .) | quote }}
{{- end }}
{{- if .old }}
  - name: pod-spec-changed
    expression: {{ include "wisp.cel.specChanged" . | quote }}
{{- end }}
{{- end -}}
