import type { Logger } from "pino";
import { type CampaignService, emptyResult } from "../../campaign/campaign-service.ts";
import type { CampaignAction } from "../../campaign/campaign-status.ts";
import type {
  AddCampaignRecipientsResponse,
  EmailWorkerServiceServer,
  StreamCampaignRecipientsRequest,
} from "../../gen/emailworker/v1/email_worker.ts";
import { requireJobId } from "../../job/job-id.ts";
import { JobValidationError } from "../../job/job-validation-error.ts";
import { campaignStatusFromProto } from "../../proto/enums.ts";
import type { ApiKeyAuth } from "../auth/api-key-auth.ts";
import { authorizedCalls } from "./authorized-calls.ts";
import {
  campaignInputFromProto,
  campaignToProto,
  recipientInputFromProto,
  scheduleToProto,
  uploadToProto,
} from "./campaign-conversions.ts";

type CampaignHandlers = Pick<
  EmailWorkerServiceServer,
  | "createCampaign"
  | "addCampaignRecipients"
  | "streamCampaignRecipients"
  | "getCampaign"
  | "listCampaigns"
  | "startCampaign"
  | "pauseCampaign"
  | "resumeCampaign"
  | "cancelCampaign"
  | "createCampaignSchedule"
  | "listCampaignSchedules"
  | "deleteCampaignSchedule"
>;

/** The campaign methods: `campaign` scope (or `admin`). */
export function campaignHandlers(deps: {
  campaigns: CampaignService;
  auth: ApiKeyAuth;
  logger: Logger;
}): CampaignHandlers {
  const { campaigns } = deps;
  const { unary, clientStream } = authorizedCalls(deps.auth, deps.logger);
  const action = (name: CampaignAction) =>
    unary("campaign", async (request: { id: string }) => ({
      campaign: campaignToProto(await campaigns.act(requireJobId(request.id, "id"), name)),
    }));

  return {
    createCampaign: unary("campaign", async (request) => {
      const input = campaignInputFromProto(request.campaign);
      if (request.recipients.length > 0) input.recipients = request.recipients.map(recipientInputFromProto);
      if (request.start) input.start = true;
      const created = await campaigns.create(input);
      return {
        campaign: campaignToProto(created.campaign),
        recipients: uploadToProto(created.recipients ?? emptyResult()),
      };
    }),

    addCampaignRecipients: unary("campaign", async (request) => {
      const id = requireJobId(request.campaign_id, "campaign_id");
      const result = await campaigns.addRecipientList(id, request.recipients.map(recipientInputFromProto));
      return { result: uploadToProto(result), campaign: campaignToProto(await campaigns.get(id)) };
    }),

    streamCampaignRecipients: clientStream(
      "campaign",
      async (
        pages: AsyncIterable<StreamCampaignRecipientsRequest>,
      ): Promise<AddCampaignRecipientsResponse> => {
        let id: string | undefined;
        let position = 1;
        const result = emptyResult();
        for await (const page of pages) {
          id ??= requireJobId(page.campaign_id, "campaign_id");
          if (page.campaign_id !== "" && page.campaign_id !== id)
            throw new JobValidationError([
              { field: "campaign_id", description: `every page must name campaign ${id} (or none)` },
            ]);
          await campaigns.addRecipientList(
            id,
            page.recipients.map(recipientInputFromProto),
            position,
            result,
          );
          position += page.recipients.length;
          if (page.invalid_rows > 0) await campaigns.countInvalid(id, page.invalid_rows, result);
        }
        if (id === undefined)
          throw new JobValidationError([{ field: "campaign_id", description: "the stream sent no page" }]);
        return { result: uploadToProto(result), campaign: campaignToProto(await campaigns.get(id)) };
      },
    ),

    getCampaign: unary("campaign", async (request) => ({
      campaign: campaignToProto(await campaigns.get(requireJobId(request.id, "id"))),
    })),

    listCampaigns: unary("campaign", async (request) => {
      const statuses = request.status.map((value, i) => {
        const status = campaignStatusFromProto(value);
        if (status === undefined)
          throw new JobValidationError([{ field: `status[${i}]`, description: "is not a campaign status" }]);
        return status;
      });
      const page = await campaigns.list({
        ...(statuses.length > 0 && { status: statuses }),
        ...(request.type !== "" && { job_type: request.type }),
        ...(request.tag !== "" && { tag: request.tag }),
        ...(request.page_size > 0 && { limit: request.page_size }),
        ...(request.page_token !== "" && { cursor: request.page_token }),
      });
      return { campaigns: page.campaigns.map(campaignToProto), next_page_token: page.next_cursor ?? "" };
    }),

    createCampaignSchedule: unary("campaign", async (request) => ({
      schedule: scheduleToProto(
        await campaigns.createSchedule({
          campaign_id: request.campaign_id,
          cron: request.cron,
          ...(request.timezone !== "" && { timezone: request.timezone }),
          ...(request.name !== "" && { name: request.name }),
        }),
      ),
    })),

    listCampaignSchedules: unary("campaign", async () => ({
      schedules: (await campaigns.listSchedules()).map(scheduleToProto),
    })),

    deleteCampaignSchedule: unary("campaign", async (request) => ({
      deleted: await campaigns.deleteSchedule(requireJobId(request.id, "id")),
    })),

    startCampaign: action("start"),
    pauseCampaign: action("pause"),
    resumeCampaign: action("resume"),
    cancelCampaign: action("cancel"),
  };
}
