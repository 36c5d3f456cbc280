import { createApp } from 'vue';
import App from './App.vue';
import './styles.css';

// Mounted in the task after the code is read: reading (parsing) the app and mounting it were one
// task at start, the longest one a cold page load had.
setTimeout(() => createApp(App).mount('#app'), 0);
