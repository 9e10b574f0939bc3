ALTER TABLE "whatif_runs" ADD COLUMN "name" text;--> statement-breakpoint
ALTER TABLE "whatif_runs" ADD COLUMN "progress" double precision DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "whatif_runs" ADD COLUMN "error" text;--> statement-breakpoint
ALTER TABLE "whatif_runs" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "whatif_runs" ADD COLUMN "replay" jsonb;