DROP INDEX "sensor_readings_ts";--> statement-breakpoint
ALTER TABLE "sensor_readings" ALTER COLUMN "payload" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "sensor_readings" DROP COLUMN "hlc";--> statement-breakpoint
ALTER TABLE "sensor_readings" DROP COLUMN "kind";