// How a worker installs itself: the install link and the files it downloads (its wg-quick config and
// the two installers). Every route that hands them out, in either app, builds them here.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { isAgentHubUrl, MAX_AGENT_HUB_URLS, type WorkerInstall } from '../domain/install.js';
import type { NodesService } from '../nodes/service.js';
import { qrSvg, renderLinuxInstaller, renderWgQuick, renderWindowsInstaller } from '../render/index.js';
import type { FromSchema } from './from-schema.js';
import type { InstallView } from './views.js';

/** A new install link as the registry made it (a Registration carries one too). */
export type InstallToken = ReturnType<NodesService['newInstallToken']>;

/**
 * Where install links point: the API's origin, since /install/ is served there, never the dashboard's.
 * - Asked of the API itself (`apiRequest`): the origin that request came in by — the name, address
 *   or mapped port the caller reached the API with is the one that reaches it from outside — with the
 *   scheme and host a proxy named in TRUST_PROXY forwarded (X-Forwarded-Proto/-Host; fastify ignores
 *   them from anyone else).
 * - Asked by the dashboard, which listens on a port of its own: its request says nothing about where
 *   the API is, so the configured SERVERURL and API_PORT, over http (the API's own listener).
 */
export function installUrl(config: Config, token: string, apiRequest?: FastifyRequest): string {
  return `${apiOrigin(config, apiRequest)}/install/${token}`;
}

/** The API's origin as workers reach it (see installUrl). */
export function apiOrigin(config: Config, apiRequest?: FastifyRequest): string {
  const configured = `${config.serverHost}:${config.apiPort}`;
  return apiRequest ? `${apiRequest.protocol}://${apiRequest.host || configured}` : `http://${configured}`;
}

/**
 * Where a worker's agent reaches the hub: the API's origin, as for install links; the configured one
 * when the request's Host is not a plain host[:port] (the agent's config carries nothing else).
 */
function agentHubUrl(config: Config, apiRequest?: FastifyRequest): string {
  const origin = apiOrigin(config, apiRequest);
  return isAgentHubUrl(origin) ? origin : apiOrigin(config);
}

/**
 * Every origin the worker's agent may ask, this hub's first: with hubs sharing a registry, each
 * one's (the agent moves to the next when one is a standby or away).
 */
function agentHubUrls(config: Config, nodes: NodesService, apiRequest?: FastifyRequest): string {
  const origins = [agentHubUrl(config, apiRequest), ...nodes.hubApis().filter(isAgentHubUrl)];
  return [...new Set(origins)].slice(0, MAX_AGENT_HUB_URLS).join(',');
}

/** The files a worker downloads, by the name they are served and saved under. */
export const DOWNLOAD_NAMES = ['wg0.conf', 'windows.bat', 'linux.sh'] as const;
export type DownloadName = (typeof DOWNLOAD_NAMES)[number];

const DOWNLOADS: Record<DownloadName, { type: string; render: (install: WorkerInstall) => string }> = {
  'wg0.conf': { type: 'text/plain; charset=utf-8', render: renderWgQuick },
  'windows.bat': { type: 'application/x-bat', render: renderWindowsInstaller },
  'linux.sh': { type: 'text/x-shellscript; charset=utf-8', render: renderLinuxInstaller },
};

/** A node's file in the path: /api/nodes/:node_id/files/:file. */
export const nodeFileParams = {
  type: 'object',
  required: ['node_id', 'file'],
  properties: { node_id: { type: 'string', maxLength: 63 }, file: { type: 'string', enum: DOWNLOAD_NAMES } },
} as const;
export type NodeFileParams = FromSchema<typeof nodeFileParams>;

/**
 * Sends one of a node's files as an attachment saved as `saveAs`. The Linux/macOS installer carries
 * a new agent credential for the node (shown once: it replaces the one an earlier installer had).
 */
export function sendDownload(
  reply: FastifyReply,
  config: Config,
  nodes: NodesService,
  nodeId: string,
  name: DownloadName,
  saveAs: string = name,
  apiRequest?: FastifyRequest,
): FastifyReply {
  const d = DOWNLOADS[name];
  const install = nodes.workerInstall(nodeId); // first: an unknown node is a 404 before any header names it
  const agent = name === 'linux.sh' ? { hubUrl: agentHubUrls(config, nodes, apiRequest), credential: nodes.issueAgentCredential(nodeId, 'install') } : null;
  const body = d.render({ ...install, agent });
  return reply.type(d.type).header('content-disposition', `attachment; filename="${saveAs}"`).send(body);
}

/** The dashboard's install panel: the link, QR codes of it and of the config, and where each file is. */
export async function installView(config: Config, nodes: NodesService, nodeId: string, link: InstallToken, filesPath: string): Promise<InstallView> {
  const url = installUrl(config, link.installToken);
  return {
    url,
    expires_at: link.installExpiresAt,
    qr_install_svg: await qrSvg(url),
    qr_config_svg: await qrSvg(renderWgQuick(nodes.workerInstall(nodeId))),
    downloads: { conf: `${filesPath}/wg0.conf`, bat: `${filesPath}/windows.bat`, sh: `${filesPath}/linux.sh` },
  };
}
