# wireguard-vpn-manager: the hub (`wgvm serve`) in a container.
#
#   docker build -t wireguard-vpn-manager .
#   docker run -d --name wgvm \
#     --cap-add NET_ADMIN --device /dev/net/tun \
#     -p 41820:41820/udp -p 8090:8090 -p 5000:5000 \
#     -v wgvm-data:/data -e SERVERURL=vpn.example.com \
#     wireguard-vpn-manager
#   docker logs wgvm        # the generated API token is printed once, at the first start
#
# Needs: the NET_ADMIN capability (to create the TUN interface wg0, set its address and MTU, and
# bring it up) and the device /dev/net/tun. No WireGuard kernel module is needed: the data plane is
# the userspace one in the C++ addon. Nothing is needed on the host beyond a kernel with TUN support.
# docker-compose.yml does all of this; docs/deployment.md explains it.

# ─────────────────────────────────────────── build stage ───────────────────────────────────────────
FROM node:24-bookworm AS build

# The addon (cmake-js: g++, cmake, make, OpenSSL 3 headers) and better-sqlite3 (node-gyp: python3,
# make, g++). The same Debian 12 packages CI installs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends g++ cmake make python3 libssl-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# better-sqlite3 is compiled here like in CI, against the Node.js headers this image ships in
# /usr/local/include/node: no prebuilt binary and no header tarball is downloaded.
ENV npm_config_build_from_source=true \
    npm_config_nodedir=/usr/local \
    npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Dependencies first, in their own layer: it is rebuilt only when package.json or the lock file
# changes. `--ignore-scripts` because our own `prepare` (npm run build) needs the sources, which are
# not copied yet; `npm rebuild` then runs the dependencies' install scripts (better-sqlite3's build),
# and not `prepare`.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts \
 && npm rebuild

# The sources (.dockerignore keeps out node_modules, build outputs, data, .env and .git), then the
# addon, the TypeScript and the dashboard's front end (Vite, into dist/web). CMakeLists.txt also
# builds the native tests and benchmarks, so the whole tree is copied, test/cpp included.
COPY . .
RUN npm run build \
 && test -f build/Release/wgvm_native.node \
 && test -f dist/cli.js \
 && test -f dist/web/index.html

# Production dependencies only; better-sqlite3's sources and object files are not needed to run.
RUN npm prune --omit=dev \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && find node_modules/better-sqlite3/build -type f ! -path '*/Release/better_sqlite3.node' -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"

# ────────────────────────────────────────── runtime stage ──────────────────────────────────────────
FROM node:24-bookworm-slim AS runtime

# libssl3: the addon links OpenSSL 3's libcrypto (Node.js itself carries its own OpenSSL).
# iproute2: `wgvm serve` runs `ip` to give wg0 its address and MTU and to bring it up.
# No ca-certificates: the hub makes no outgoing TLS connections.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 iproute2 \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# OPENSSL_ia32cap: OpenSSL without its AVX-512 IFMA Poly1305, slower per packet (src/dataplane/openssl-env.ts)
ENV NODE_ENV=production \
    OPENSSL_ia32cap=:~0x200000 \
    DATA_DIR=/data

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
# dist/ holds the compiled TypeScript and, in dist/web, the dashboard's front end.
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
# The worker agent script, written into the Linux/macOS installers (src/render/posix-shell.ts).
COPY --from=build /app/agent ./agent
# The path src/native.ts loads: ../build/Release/wgvm_native.node from dist/.
COPY --from=build /app/build/Release/wgvm_native.node ./build/Release/wgvm_native.node

# The registry (wgvm.db), secret.key (seals the private keys) and api_token. Back it up.
VOLUME /data

# SERVERPORT (WireGuard, UDP), API_PORT, DASHBOARD_PORT: the defaults. If you change them in the
# environment, publish those ports instead (docker-compose.yml follows the variables).
EXPOSE 41820/udp 8090 5000

# /health answers once the device is up and the API listens. No curl in the slim image: Node's fetch.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + ((process.env.API_PORT || '').trim() || '8090') + '/health').then((r) => process.exit(r.ok ? 0 : 1)).catch(() => process.exit(1))"]

# Runs as root on purpose: creating the TUN interface and configuring it with `ip` needs
# CAP_NET_ADMIN, which the container only has when started with --cap-add NET_ADMIN; root inside the
# container has no more than the capabilities Docker grants it.
ENTRYPOINT ["node", "/app/bin/wgvm.js"]
CMD ["serve"]
