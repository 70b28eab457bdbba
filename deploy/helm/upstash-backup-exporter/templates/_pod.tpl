{{/*
The pod template of the Deployment and of the sharding StatefulSet, which
differ only in the sharding flags and POD_NAME. Include it with nindent 4
under template:.
*/}}
{{- define "upstash-backup-exporter.podTemplate" -}}
metadata:
  annotations:
    # A changed configuration or key rolls the pod.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  labels:
    {{- include "upstash-backup-exporter.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "upstash-backup-exporter.serviceAccountName" . }}
  automountServiceAccountToken: false
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with .Values.podSecurityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: exporter
      image: {{ include "upstash-backup-exporter.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        - --config.file=/etc/upstash_backup_exporter/config.yml
        {{- if .Values.sharding.enabled }}
        # Each pod reads the databases of one shard of replicas: the
        # ordinal of its name.
        - --shard.count={{ include "upstash-backup-exporter.replicas" . }}
        - --shard.pod-name=$(POD_NAME)
        {{- end }}
        {{- with .Values.cacheTTL }}
        - --upstash.cache-ttl={{ . }}
        {{- end }}
        {{- with .Values.logLevel }}
        - --log.level={{ . }}
        {{- end }}
        {{- with .Values.logFormat }}
        - --log.format={{ . }}
        {{- end }}
        {{- range .Values.extraArgs }}
        - {{ . | quote }}
        {{- end }}
      {{- if or .Values.sharding.enabled .Values.env }}
      env:
        {{- if .Values.sharding.enabled }}
        # The pod's name, for --shard.pod-name.
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      ports:
        - name: http
          containerPort: 10035
          protocol: TCP
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.securityContext }}
      securityContext:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        # Directory mounts, not subPath, so that an edited ConfigMap or a
        # rotated key reaches the running pod.
        - name: config
          mountPath: /etc/upstash_backup_exporter
          readOnly: true
        - name: api-keys
          mountPath: /run/secrets/upstash
          readOnly: true
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "upstash-backup-exporter.fullname" . }}
    - name: api-keys
      secret:
        secretName: {{ include "upstash-backup-exporter.secretName" . }}
        defaultMode: 0440
        {{- if and .Values.existingSecret.name .Values.existingSecret.key }}
        items:
          - key: {{ .Values.existingSecret.key }}
            path: api-key
        {{- end }}
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}
