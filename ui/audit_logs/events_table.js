// The events table: Quasar's QTable with its header and cell templates written here, compiled once.
// A template given to NiceGUI as a slot becomes a new component each time the page draws, and the page draws
// on every update of any element: each of the 250 templated cells of a page of 50 events was then made anew
// (see ui/audit_logs/event_table.py).
export default {
  template: `
    <q-table ref="qRef" :columns="columns">
      <template #header-cell-timestamp="props">
        <q-th :props="props">{{ props.col.label }}<q-tooltip>{{ props.col.tooltip }}</q-tooltip></q-th>
      </template>
      <template #body-cell-status="props">
        <q-td :props="props">
          <q-badge :color="props.value === 'SUCCESS' ? statusColors.SUCCESS : statusColors.FAILED" :label="props.value" />
        </q-td>
      </template>
      <template v-for="name in truncated" v-slot:[\`body-cell-\${name}\`]="props">
        <q-td :props="props"><div class="truncate" :title="props.value">{{ props.value }}</div></q-td>
      </template>
      <template v-for="(_, slot) in $slots" v-slot:[slot]="slotProps">
        <slot :name="slot" v-bind="slotProps || {}" />
      </template>
    </q-table>
  `,
  props: {
    columns: Array,
    statusColors: Object,
    truncated: Array,
  },
};
