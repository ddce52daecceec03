# One image for all four Skolit services, the web app and the city's connector; the command chooses:
#   docker run skolit services.catalog serve --provision      docker run skolit web
# Production talks to a real PostgreSQL and Kafka, so no optional extras are installed.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

# An unprivileged user that owns nothing but its (empty) working directory.
RUN groupadd --system --gid 10001 skolit \
 && useradd --system --uid 10001 --gid skolit --home-dir /app --no-create-home --shell /usr/sbin/nologin skolit

WORKDIR /src
COPY pyproject.toml README.md ./
COPY services/ ./services/
COPY shared/ ./shared/
COPY web/ ./web/
COPY connectors/ ./connectors/
# Install as a regular (non-editable) package, then drop the sources so the installed copy is what runs.
RUN pip install --no-cache-dir . \
 && rm -rf /src

WORKDIR /app
RUN chown skolit:skolit /app

# Inside a container the HTTP API must listen on every interface, not the 127.0.0.1 default.
# (The web app reads SKOLIT_WEB_HOST: docker-compose.yml and deploy/k8s/base/web.yaml set it.)
ENV SKOLIT_HTTP_HOST=0.0.0.0
EXPOSE 8101 8102 8103 8104 8105 3000

USER skolit:skolit

# No HEALTHCHECK here: the port differs per service, so docker-compose.yml declares one per service.
ENTRYPOINT ["python", "-m"]
CMD ["services.assessment"]
