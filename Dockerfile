# Berth container image. Build: docker build -t berth .
# Run:   docker run -p 8081:8081 -v berth-data:/var/lib/berth berth
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin berth

FROM debian:bookworm-slim
RUN useradd --system --home /var/lib/berth --create-home berth
COPY --from=build /src/target/release/berth /usr/local/bin/berth
USER berth
ENV BERTH_DATA_DIR=/var/lib/berth BERTH_LISTEN=0.0.0.0:8081
VOLUME /var/lib/berth
EXPOSE 8081
# `berth health` asks the server itself (GET /service/rest/v1/status at the configured
# listen address; https with security.tls): no shell, no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/berth", "health"]
ENTRYPOINT ["/usr/local/bin/berth"]
CMD ["serve"]
