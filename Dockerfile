FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# WeasyPrint (invoice PDFs) lays out text with Pango and needs fonts (ADR 0038).
RUN apt-get update && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
COPY requirements/base.lock requirements/base.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/base.lock
COPY . .
# Static files are collected (hashed, compressed) into the image, where the web process
# serves them from: not under DATA_DIR, which is a volume at run time.
ENV STATIC_ROOT=/app/static
RUN DATA_DIR=/tmp/build python manage.py collectstatic --noinput -v0
USER nobody
