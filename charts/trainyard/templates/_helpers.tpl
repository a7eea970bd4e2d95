{{/*
app.kubernetes.io/name of every object.
*/}}
{{- define "trainyard.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: the release name, so objects are <release>-polling etc. (the
names NOTES.txt, skaffold and the docs use). 36 characters at most: the longest suffix,
"-postgresql-hl" (14), and a StatefulSet's pod and revision names must stay within 63.
*/}}
{{- define "trainyard.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 36 | trimSuffix "-" }}
{{- end }}

{{- define "trainyard.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of an object. Call with (dict "root" $ "component" "polling").
*/}}
{{- define "trainyard.labels" -}}
helm.sh/chart: {{ include "trainyard.chart" .root }}
{{ include "trainyard.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: trainyard
{{- end }}

{{/*
Selector labels: immutable on Deployments and StatefulSets, so never anything that changes
with an upgrade. The instance label is the release name, as TRAINYARD_INSTANCE is.
*/}}
{{- define "trainyard.selectorLabels" -}}
app.kubernetes.io/name: {{ include "trainyard.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
The APIs: app name (the CLI argument and the component label) -> key in values.yaml.
*/}}
{{- define "trainyard.apis" -}}
naive: naive
polling: polling
webhook: webhook
webhook-client: webhookClient
{{- end }}

{{/*
The one image string of the chart's pods and of the training Jobs (TRAINYARD_WORKER_IMAGE).
*/}}
{{- define "trainyard.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
imagePullSecrets as a comma list of names (TRAINYARD_WORKER_IMAGE_PULL_SECRETS).
*/}}
{{- define "trainyard.pullSecretNames" -}}
{{- $names := list }}
{{- range .Values.imagePullSecrets }}
{{- $names = append $names .name }}
{{- end }}
{{- join "," $names }}
{{- end }}

{{- define "trainyard.serviceAccount.api" -}}
{{ include "trainyard.fullname" . }}-api
{{- end }}
{{- define "trainyard.serviceAccount.controller" -}}
{{ include "trainyard.fullname" . }}-controller
{{- end }}
{{- define "trainyard.serviceAccount.worker" -}}
{{ include "trainyard.fullname" . }}-worker
{{- end }}

{{/*
The Secret with `database-url` and `webhook-signing-secrets`: the user's or the chart's.
*/}}
{{- define "trainyard.secretName" -}}
{{- default (include "trainyard.fullname" .) .Values.existingSecret }}
{{- end }}

{{/*
The Secret with the API tokens (auth.keys): auth.existingSecret, else the one above.
*/}}
{{- define "trainyard.authSecretName" -}}
{{- default (include "trainyard.secretName" .) .Values.auth.existingSecret }}
{{- end }}

{{/*
Whether the chart writes the auth keys into its own Secret: only when no Secret of the user's
holds them.
*/}}
{{- define "trainyard.chartWritesAuth" -}}
{{- if and .Values.auth.enabled (not .Values.auth.existingSecret) (not .Values.existingSecret) }}true{{ end }}
{{- end }}

{{- define "trainyard.postgresql.fullname" -}}
{{ include "trainyard.fullname" . }}-postgresql
{{- end }}

{{/*
Generated values, made once per render. A helper runs once per call, and the Secrets are
rendered more than once (again for the pods' checksum annotations), so the first call keeps
its result in a map that every template of the chart shares (.Values is the same object for
all of them; the schema forbids this key in user values). Across upgrades, the value already
in the cluster wins (lookup; it returns nothing under `helm template`).
*/}}
{{- define "trainyard.generated" -}}
{{- if not (hasKey .Values "__generated") }}
{{- $_ := set .Values "__generated" dict }}
{{- end }}
{{- $generated := get .Values "__generated" }}
{{- if not (hasKey $generated "postgresPassword") }}
{{- $password := .Values.postgresql.auth.password }}
{{- if not $password }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "trainyard.postgresql.fullname" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "password") }}
{{- $password = b64dec (get $existing.data "password") }}
{{- else }}
{{- $password = randAlphaNum 32 }}
{{- end }}
{{- end }}
{{- $_ := set $generated "postgresPassword" $password }}
{{- end }}
{{- if not (hasKey $generated "signingSecrets") }}
{{- $secrets := join "," .Values.webhook.signingSecrets }}
{{- if not $secrets }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "trainyard.fullname" .) }}
{{- if and $existing $existing.data (hasKey $existing.data "webhook-signing-secrets") }}
{{- $secrets = b64dec (get $existing.data "webhook-signing-secrets") }}
{{- else }}
{{- $secrets = printf "whsec_%s" (randBytes 32) }}
{{- end }}
{{- end }}
{{- $_ := set $generated "signingSecrets" $secrets }}
{{- end }}
{{- if and (include "trainyard.chartWritesAuth" .) (not (hasKey $generated "auth")) }}
{{- $_ := set $generated "auth" (include "trainyard.generatedAuth" . | fromYaml) }}
{{- end }}
{{- toYaml $generated }}
{{- end }}

{{/*
The auth keys of the chart's Secret (called once, by trainyard.generated). The webhook client's
token is one more full-access token and the scrape token one more read-only token, each only
while its user is deployed. Generated tokens (those two, and a full-access one when
auth.tokens is empty) are read back from the Secret in the cluster, so upgrades keep them.
*/}}
{{- define "trainyard.generatedAuth" -}}
{{- $keys := .Values.auth.keys }}
{{- $data := dict }}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "trainyard.fullname" .) }}
{{- if and $existing $existing.data }}
{{- $data = $existing.data }}
{{- end }}
{{- $client := "" }}
{{- if .Values.webhookClient.enabled }}
{{- $client = get $data $keys.webhookClientToken | b64dec | default (randAlphaNum 40) }}
{{- end }}
{{- $metrics := "" }}
{{- if .Values.serviceMonitor.enabled }}
{{- $metrics = get $data $keys.metricsToken | b64dec | default (randAlphaNum 40) }}
{{- end }}
{{- $full := .Values.auth.tokens }}
{{- if not $full }}
{{- $kept := without (splitList "," (get $data $keys.tokens | b64dec)) "" (get $data $keys.webhookClientToken | b64dec) }}
{{- $full = $kept | default (list (randAlphaNum 40)) }}
{{- end }}
{{- $read := .Values.auth.readTokens }}
{{- if $client }}{{ $full = append $full $client }}{{ end }}
{{- if $metrics }}{{ $read = append $read $metrics }}{{ end }}
tokens: {{ join "," $full | quote }}
readTokens: {{ join "," $read | quote }}
webhookClientToken: {{ $client | quote }}
metricsToken: {{ $metrics | quote }}
{{- end }}

{{/*
database-url of the chart's Secret.
*/}}
{{- define "trainyard.databaseUrl" -}}
{{- if .Values.postgresql.enabled }}
{{- $auth := .Values.postgresql.auth }}
{{- $password := get (include "trainyard.generated" . | fromYaml) "postgresPassword" }}
{{- printf "postgres://%s:%s@%s:5432/%s" $auth.username $password (include "trainyard.postgresql.fullname" .) $auth.database }}
{{- else }}
{{- required "postgresql.enabled=false needs externalDatabase.url (or existingSecret)" .Values.externalDatabase.url }}
{{- end }}
{{- end }}

{{/*
The webhook client's callback base URL and the webhook server's URL, by Service name.
*/}}
{{- define "trainyard.webhookClientUrl" -}}
{{- default (printf "http://%s-webhook-client:%d" (include "trainyard.fullname" .) (int .Values.webhookClient.port)) .Values.webhookClient.publicUrl }}
{{- end }}

{{/*
Hosts the webhook server may call despite blockPrivate: the user's list, or else the
webhook-client Service's names as a pod may write them.
*/}}
{{- define "trainyard.webhookAllowedHosts" -}}
{{- if .Values.webhook.allowedHosts }}
{{- join "," .Values.webhook.allowedHosts }}
{{- else if .Values.webhookClient.enabled }}
{{- $svc := printf "%s-webhook-client" (include "trainyard.fullname" .) }}
{{- $ns := .Release.Namespace }}
{{- join "," (list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns .Values.clusterDomain)) }}
{{- end }}
{{- end }}

{{/*
Pod-level security context of every trainyard pod.
*/}}
{{- define "trainyard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Container-level security context, complete on its own (not relying on the pod's).
*/}}
{{- define "trainyard.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .Values.runAsUser }}
runAsGroup: {{ .Values.runAsUser }}
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/*
Scheduling settings shared by the chart's pods.
*/}}
{{- define "trainyard.scheduling" -}}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
Annotations that roll the pods when their configuration changes.
*/}}
{{- define "trainyard.checksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
{{- if not .Values.existingSecret }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end }}
{{- with .Values.podAnnotations }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
The env every trainyard container gets besides the ConfigMap: secrets by reference, never
inlined, each only where it is used. Call with (dict "root" $ "app" <app or "controller">).
The signing secrets: the controller signs (its dispatcher), the webhook client verifies. The
API tokens (auth.enabled): every HTTP app checks them, the controller's for its /metrics; the
webhook client also sends one to the webhook API.
*/}}
{{- define "trainyard.secretEnv" -}}
{{- $root := .root }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: database-url
{{- if has .app (list "controller" "webhook-client") }}
- name: TRAINYARD_WEBHOOK_SIGNING_SECRETS
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.secretName" $root }}
      key: webhook-signing-secrets
{{- end }}
{{- if $root.Values.auth.enabled }}
{{- $keys := $root.Values.auth.keys }}
- name: TRAINYARD_API_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.authSecretName" $root }}
      key: {{ $keys.tokens }}
- name: TRAINYARD_API_READ_TOKENS
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.authSecretName" $root }}
      key: {{ $keys.readTokens }}
      # A Secret of yours may have no read-only tokens.
      optional: true
{{- if eq .app "webhook-client" }}
- name: TRAINYARD_WEBHOOK_SERVER_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "trainyard.authSecretName" $root }}
      key: {{ $keys.webhookClientToken }}
{{- end }}
{{- end }}
{{- end }}

{{/*
An egress rule to the Kubernetes API server: not a pod, and its address differs per cluster.
*/}}
{{- define "trainyard.netpol.apiServer" -}}
{{- $np := .Values.networkPolicy }}
- ports:
    {{- range $np.apiServerPorts }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
  {{- with $np.apiServerEgressTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
Egress rules of every trainyard pod: the database and DNS (networkpolicy.yaml).
*/}}
{{- define "trainyard.netpol.database" -}}
{{- $np := .Values.networkPolicy }}
{{- if .Values.postgresql.enabled }}
- to:
    - podSelector:
        matchLabels:
          {{- include "trainyard.selectorLabels" (dict "root" . "component" "postgresql") | nindent 10 }}
  ports:
    - protocol: TCP
      port: 5432
{{- else }}
- ports:
    - protocol: TCP
      port: {{ $np.databasePort }}
  {{- with $np.databaseEgressTo }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
- ports:
    - protocol: UDP
      port: 53
    - protocol: TCP
      port: 53
{{- end }}

{{/*
Settings that are valid one by one but not together. config.ts would refuse them when the pods
start; failing here says so at install time instead.
*/}}
{{- define "trainyard.validate" -}}
{{- if and .Values.postgresql.enabled .Values.externalDatabase.url }}
{{- fail "externalDatabase.url is used only with postgresql.enabled=false: choose one database" }}
{{- end }}
{{- if and (not .Values.postgresql.enabled) (not .Values.existingSecret) (not .Values.externalDatabase.url) }}
{{- fail "postgresql.enabled=false needs externalDatabase.url (or existingSecret)" }}
{{- end }}
{{- if gt (int .Values.config.defaultDurationSeconds) (int .Values.config.maxDurationSeconds) }}
{{- fail "config.defaultDurationSeconds must not exceed config.maxDurationSeconds" }}
{{- end }}
{{- if lt (int .Values.webhook.backoffMaxSeconds) (int .Values.webhook.backoffSeconds) }}
{{- fail "webhook.backoffMaxSeconds must be at least webhook.backoffSeconds" }}
{{- end }}
{{- $auth := .Values.auth }}
{{- if and (not $auth.enabled) (or $auth.tokens $auth.readTokens $auth.existingSecret) }}
{{- fail "auth.tokens, auth.readTokens and auth.existingSecret are used only with auth.enabled=true" }}
{{- end }}
{{- if and $auth.enabled (or $auth.tokens $auth.readTokens) (not (include "trainyard.chartWritesAuth" .)) }}
{{- fail "auth.tokens and auth.readTokens go into the chart's Secret: with auth.existingSecret or existingSecret, put them in that Secret instead" }}
{{- end }}
{{- range $t := $auth.readTokens }}
{{- if has $t $auth.tokens }}
{{- fail "a token cannot be in auth.tokens and auth.readTokens both" }}
{{- end }}
{{- end }}
{{- end }}
