// The KAM Add-in's company record card. It reads only the company property kam_card_json (written
// by the sync, kam.card.v1) through the CRM properties hook: no fetch, no serverless function, so
// the self-hosted add-in needs no inbound connection. All wording comes from cardView.mjs.
import React from "react";
import {
  Alert,
  Divider,
  Flex,
  Heading,
  LoadingSpinner,
  ProgressBar,
  Tag,
  Text,
  hubspot,
} from "@hubspot/ui-extensions";
import { useCrmProperties } from "@hubspot/ui-extensions/crm";

import { viewModel } from "./cardView.mjs";

hubspot.extend(() => <KamCard />);

const KamCard = () => {
  const { properties, isLoading, error } = useCrmProperties(["kam_card_json"]);
  if (isLoading) return <LoadingSpinner label="Loading the key-account card" />;
  if (error) {
    return (
      <Alert title="Key-account data unavailable" variant="error">
        {String(error.message || error)}
      </Alert>
    );
  }
  const view = viewModel(properties?.kam_card_json);
  if (view.state !== "ok") {
    return (
      <Alert title="Key account" variant={view.state === "empty" ? "info" : "warning"}>
        {view.message}
      </Alert>
    );
  }
  return (
    <Flex direction="column" gap="sm">
      <Heading>{view.title}</Heading>
      {view.scoreShare !== null && (
        <ProgressBar value={view.scoreShare * 100} maxValue={100} title={`${view.score} ${view.scoreMax}`} />
      )}
      <Flex direction="row" gap="xs" wrap="wrap">
        <Tag>{view.tier}</Tag>
        {view.rank && <Tag variant="default">{view.rank}</Tag>}
        <Tag variant="default">{view.openTasks}</Tag>
      </Flex>
      {view.capped && <Alert title="Held by a tier capacity" variant="warning">{view.capped}</Alert>}
      {view.pareto && <Text variant="microcopy">{view.pareto}</Text>}

      {view.nextTier && (
        <>
          <Divider />
          <Text format={{ fontWeight: "bold" }}>{view.nextTier.title}</Text>
          {view.nextTier.levers.map((lever) => (
            <Text key={lever}>{lever}</Text>
          ))}
        </>
      )}

      <Divider />
      <Text format={{ fontWeight: "bold" }}>Goals: {view.goalsSummary}</Text>
      {view.goalsTrend && (
        <Flex direction="row" gap="xs" align="center">
          <Tag variant={view.goalsTrend.variant}>{view.goalsTrend.direction}</Tag>
          <Text>{view.goalsTrend.text}</Text>
        </Flex>
      )}
      {view.goals.map((goal) => (
        <Flex key={goal.label} direction="row" gap="xs" align="center">
          <Tag variant={goal.variant}>{goal.status}</Tag>
          <Text>
            {goal.label}: {goal.detail}
          </Text>
        </Flex>
      ))}

      {view.health.length > 0 && (
        <>
          <Divider />
          <Text format={{ fontWeight: "bold" }}>Health</Text>
          <Flex direction="row" gap="xs" wrap="wrap">
            {view.health.map((h) => (
              <Tag key={h.label} variant={h.variant}>
                {h.label}: {h.status}
              </Tag>
            ))}
          </Flex>
        </>
      )}

      <Divider />
      <Text format={{ fontWeight: "bold" }}>Score breakdown (weight × score = points)</Text>
      {view.breakdown.map((row) => (
        <Text key={row.label}>
          {row.label}: {row.weight} × {row.score} = {row.points}
        </Text>
      ))}

      {view.truncated && <Text variant="microcopy">{view.truncated}</Text>}
      <Text variant="microcopy">{view.footer}</Text>
    </Flex>
  );
};
